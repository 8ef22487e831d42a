#pragma once
// DiskGuard: whether the data dir still has room for the log. Below --min-free-bytes the node
// takes no client writes, round proposals or log entries from a leader, hands its leadership to
// a voter that can write, and goes on serving reads and heartbeats; once the space is back (the
// reserve and an eighth of it more, so that it does not flap) it takes them again by itself.
// The reserve keeps what is already under way (a Ready being written, the hard state, a
// snapshot) from meeting ENOSPC; if another program fills the disk at once and a write fails
// anyway, the node stops rather than go on with a log it could not write
// (storage/durable_storage.h), and restarts clean.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace fednode {

class DiskGuard {
 public:
  // The bytes available to this process under `dir`; nullopt if they cannot be read.
  using SpaceFn = std::function<std::optional<std::uint64_t>(const std::string& dir)>;
  enum class Change { kNone, kLow, kBack };

  // min_free 0: never low. `space` defaults to std::filesystem::space.
  DiskGuard(std::string dir, std::uint64_t min_free, SpaceFn space = {});

  Change check();
  // Why the node refuses writes now ("" while there is room): one line naming the dir, the
  // bytes free and the reserve.
  const std::string& low() const { return low_; }
  std::uint64_t available() const { return available_; }

 private:
  std::string dir_;
  std::uint64_t min_free_;
  SpaceFn space_;
  std::string low_;
  std::uint64_t available_ = 0;
};

}  // namespace fednode
