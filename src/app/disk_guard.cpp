#include "fednode/app/disk_guard.h"

#include <filesystem>

namespace fednode {
namespace {

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

DiskGuard::DiskGuard(std::string dir, std::uint64_t min_free, SpaceFn space)
    : dir_(std::move(dir)), min_free_(min_free), space_(std::move(space)) {
  if (!space_) {
    space_ = [](const std::string& d) -> std::optional<std::uint64_t> {
      std::error_code ec;
      auto s = std::filesystem::space(d, ec);
      if (ec) return std::nullopt;
      return static_cast<std::uint64_t>(s.available);
    };
  }
}

DiskGuard::Change DiskGuard::check() {
  if (min_free_ == 0) return Change::kNone;
  auto available = space_(dir_);
  if (!available) return Change::kNone;  // unreadable: judge by the next check, not by a guess
  available_ = *available;
  if (low_.empty() && available_ < min_free_) {
    low_ = "data dir " + dir_ + " has " + mib(available_) + " free, below --min-free-bytes " + mib(min_free_) +
           ": this node takes no writes, uploads or log entries until space returns";
    return Change::kLow;
  }
  if (!low_.empty() && available_ >= min_free_ + min_free_ / 8) {
    low_.clear();
    return Change::kBack;
  }
  return Change::kNone;
}

}  // namespace fednode
