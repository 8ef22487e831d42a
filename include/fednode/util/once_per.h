#pragma once
// Lets something happen at most once per period on the local monotonic clock (a warning under a
// flood of bad input), counting what it held back in between. Single-threaded.
#include <chrono>
#include <cstdint>

namespace fednode {

class OncePer {
 public:
  explicit OncePer(std::chrono::steady_clock::duration period = std::chrono::seconds(1)) : period_(period) {}
  // True at most once per period; a false counts as held back.
  bool allow() {
    auto now = std::chrono::steady_clock::now();
    if (used_ && now - last_ < period_) {
      ++held_;
      return false;
    }
    used_ = true;
    last_ = now;
    held_back_ = held_;
    held_ = 0;
    return true;
  }
  // How many were held back before the last allowed one.
  std::uint64_t held_back() const { return held_back_; }

 private:
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point last_{};
  bool used_ = false;
  std::uint64_t held_ = 0, held_back_ = 0;
};

}  // namespace fednode
