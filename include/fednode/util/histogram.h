#pragma once
// A fixed-bucket histogram of observations (durations in seconds, say), in the shape Prometheus
// exports: a count per bucket (values <= its upper bound and above the previous one), an overflow
// bucket, the sum and the count. Not thread-safe: one owner observes and reads.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace fednode {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
    std::sort(bounds_.begin(), bounds_.end());
  }
  void observe(double v) {
    auto at = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
    ++counts_[static_cast<std::size_t>(at)];
    sum_ += v;
    ++count_;
  }
  const std::vector<double>& bounds() const { return bounds_; }
  // counts()[i] for bucket i (bounds()[i]); the last one is above every bound.
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace fednode
