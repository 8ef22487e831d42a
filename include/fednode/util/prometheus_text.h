#pragma once
// Writes the Prometheus text exposition format (version 0.0.4): for each metric family a
// "# HELP" and a "# TYPE" line, then its samples, with label values escaped. Debian 12 packages
// no C++ Prometheus client, and the format is small.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fednode/util/histogram.h"

namespace fednode {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // A family's header; its samples follow with sample() (counters and gauges) or histogram().
  PrometheusText& family(std::string_view name, std::string_view type, std::string_view help);
  PrometheusText& sample(std::string_view name, double value, const MetricLabels& labels = {});
  PrometheusText& sample(std::string_view name, std::uint64_t value, const MetricLabels& labels = {});
  // Writes the family header and NAME_bucket{le=...} (cumulative), NAME_sum and NAME_count.
  PrometheusText& histogram(std::string_view name, std::string_view help, const Histogram& h,
                            const MetricLabels& labels = {});
  // Shorthands: a family with one sample.
  PrometheusText& counter(std::string_view name, std::string_view help, std::uint64_t value);
  PrometheusText& gauge(std::string_view name, std::string_view help, double value);
  const std::string& str() const { return out_; }

 private:
  void labels(const MetricLabels& labels, const std::string* le);
  std::string out_;
};

// "1.5", "3", "+Inf", "NaN": how the format spells a value.
std::string prometheus_number(double v);

}  // namespace fednode
