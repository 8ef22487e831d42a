#pragma once
// PartialUploads (private to src/net): the updates a data-plane server is receiving in parts
// (op "part"), so that a cut upload resumes where it stopped instead of from the start. An
// upload is kept per sender and blob id; parts are taken in order only (a part at another offset
// changes nothing, and its answer says where the upload stands). Bounded by the sizes the uploads
// declare: at most kPerSender uploads and kPerSenderBytes per sender (a sender's oldest upload
// goes to make room for its next), so one member can hold no more memory here than one frame of
// the largest size; kMaxUploads and kTotalBytes in all, where only an upload untouched for
// kQuiet makes room: with none, a new upload is refused as busy (its sender then sends the
// update in one frame) rather than cut off another that is under way. An upload untouched for
// kIdle is dropped (sweep, on the server's timer, and at every call). Thread-safe: the server's
// blob threads share it.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "fednode/util/status.h"

namespace fednode::net {

class PartialUploads {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kPerSender = 4;
  static constexpr std::uint64_t kPerSenderBytes = 256ull << 20;
  static constexpr std::uint64_t kTotalBytes = 1ull << 30;
  static constexpr std::size_t kMaxUploads = 64;
  static constexpr std::chrono::seconds kQuiet{5};
  static constexpr std::chrono::seconds kIdle{120};
  // How a refusal for want of room starts: the sender may send the whole update instead.
  static constexpr std::string_view kBusy = "busy: ";

  // Adds `data` at `offset` to `sender`'s upload of `id` of `size` bytes (starting it at offset
  // 0), and sets *have to the bytes it now holds. An error: a size that differs from the
  // upload's, or one larger than kPerSenderBytes.
  Status add(const std::string& sender, const std::string& id, std::uint64_t size, std::uint64_t offset,
             std::string_view data, std::uint64_t* have, Clock::time_point now = Clock::now());
  // The whole upload, taken out, once it holds all its bytes; else an error saying how much it has.
  Status take(const std::string& sender, const std::string& id, std::string* data, Clock::time_point now = Clock::now());
  std::size_t count() const;
  void sweep(Clock::time_point now = Clock::now());  // drops the uploads idle for kIdle

 private:
  struct Upload {
    std::uint64_t size = 0;
    std::string data;
    Clock::time_point touched;
  };
  void expire(Clock::time_point now);
  Status make_room(const std::string& sender, std::uint64_t size, Clock::time_point now);

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Upload> uploads_;
  std::uint64_t declared_ = 0;  // sum of the uploads' sizes
};

}  // namespace fednode::net
