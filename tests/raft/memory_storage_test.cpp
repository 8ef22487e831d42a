#include <gtest/gtest.h>

#include "fednode/raft/storage.h"

namespace fednode::raft {
namespace {

Entry e(Index i, Term t) { return Entry{t, i, EntryType::kNormal, std::string("v").append(std::to_string(i))}; }

TEST(MemoryStorage, AppendReplacesConflictingSuffix) {
  MemoryStorage s;
  s.append({e(1, 1), e(2, 1), e(3, 1)});
  s.append({e(2, 2)});
  EXPECT_EQ(s.last_index(), 2u);
  EXPECT_EQ(s.term(2), 2u);
}

TEST(MemoryStorage, CreateSnapshotCompactsPrefix) {
  MemoryStorage s;
  s.append({e(1, 1), e(2, 1), e(3, 2), e(4, 2)});
  s.create_snapshot(3, ConfState{{1}, {}}, "state");
  EXPECT_EQ(s.first_index(), 4u);
  EXPECT_EQ(s.last_index(), 4u);
  EXPECT_EQ(s.term(3), 2u);  // the snapshot's own term stays known
  EXPECT_FALSE(s.term(2));
  EXPECT_EQ(s.snapshot().data, "state");
  EXPECT_EQ(s.entries(4, 5, 100).size(), 1u);
}

TEST(MemoryStorage, EntriesHonourByteBudgetButReturnOne) {
  MemoryStorage s;
  s.append({e(1, 1), e(2, 1), e(3, 1)});
  EXPECT_EQ(s.entries(1, 4, 0).size(), 1u);
  EXPECT_EQ(s.entries(1, 4, 1 << 20).size(), 3u);
}

TEST(MemoryStorage, ApplySnapshotDropsLog) {
  MemoryStorage s;
  s.append({e(1, 1), e(2, 1)});
  s.apply_snapshot(Snapshot{{7, 3, {}}, "x"});
  EXPECT_EQ(s.first_index(), 8u);
  EXPECT_EQ(s.last_index(), 7u);
  EXPECT_EQ(s.term(7), 3u);
}

}  // namespace
}  // namespace fednode::raft
