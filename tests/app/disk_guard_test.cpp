// DiskGuard: low below --min-free-bytes, back only with an eighth of the reserve to spare, and
// one line that names the dir, the space and the option.
#include "fednode/app/disk_guard.h"

#include <gtest/gtest.h>

namespace fednode {
namespace {

TEST(DiskGuard, LowBelowTheReserveAndBackWithAnEighthToSpare) {
  std::optional<std::uint64_t> free = 100u << 20;
  DiskGuard g("/data/fednode", 64u << 20, [&](const std::string& dir) {
    EXPECT_EQ(dir, "/data/fednode");
    return free;
  });
  EXPECT_EQ(g.check(), DiskGuard::Change::kNone);
  EXPECT_EQ(g.low(), "");
  free = 63u << 20;
  EXPECT_EQ(g.check(), DiskGuard::Change::kLow);
  EXPECT_EQ(g.low(), "data dir /data/fednode has 63 MiB free, below --min-free-bytes 64 MiB: this node takes no "
                     "writes, uploads or log entries until space returns");
  EXPECT_EQ(g.check(), DiskGuard::Change::kNone);  // said once
  free = 70u << 20;                                 // above the reserve, not above it and an eighth
  EXPECT_EQ(g.check(), DiskGuard::Change::kNone);
  EXPECT_FALSE(g.low().empty());
  free = std::nullopt;  // unreadable: no change either way
  EXPECT_EQ(g.check(), DiskGuard::Change::kNone);
  EXPECT_FALSE(g.low().empty());
  free = 72u << 20;
  EXPECT_EQ(g.check(), DiskGuard::Change::kBack);
  EXPECT_EQ(g.low(), "");
}

TEST(DiskGuard, NoReserveNeverLow) {
  DiskGuard g("/d", 0, [](const std::string&) { return std::optional<std::uint64_t>(0); });
  EXPECT_EQ(g.check(), DiskGuard::Change::kNone);
  EXPECT_EQ(g.low(), "");
}

TEST(DiskGuard, MeasuresARealDirectory) {
  DiskGuard g(::testing::TempDir(), 1ull << 62);  // more than any disk has
  EXPECT_EQ(g.check(), DiskGuard::Change::kLow);
  EXPECT_GT(g.available(), 0u);
}

}  // namespace
}  // namespace fednode
