#include "fednode/util/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fednode {
namespace {

void escaped(std::string& out, std::string_view v, bool quote) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string prometheus_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {  // the shortest that reads back exactly
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

PrometheusText& PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return *this;
}

void PrometheusText::labels(const MetricLabels& labels, const std::string* le) {
  if (labels.empty() && !le) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    escaped(out_, v, true);
    out_ += '"';
  }
  if (le) {
    if (!first) out_ += ',';
    out_ += "le=\"" + *le + "\"";
  }
  out_ += '}';
}

PrometheusText& PrometheusText::sample(std::string_view name, double value, const MetricLabels& l) {
  out_ += name;
  labels(l, nullptr);
  out_ += ' ' + prometheus_number(value) + '\n';
  return *this;
}

PrometheusText& PrometheusText::sample(std::string_view name, std::uint64_t value, const MetricLabels& l) {
  out_ += name;
  labels(l, nullptr);
  out_ += ' ' + std::to_string(value) + '\n';
  return *this;
}

PrometheusText& PrometheusText::histogram(std::string_view name, std::string_view help, const Histogram& h,
                                          const MetricLabels& l) {
  family(name, "histogram", help);
  std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    std::string le = i < h.bounds().size() ? prometheus_number(h.bounds()[i]) : "+Inf";
    out_ += bucket;
    labels(l, &le);
    out_ += ' ' + std::to_string(cumulative) + '\n';
  }
  sample(std::string(name) + "_sum", h.sum(), l);
  sample(std::string(name) + "_count", h.count(), l);
  return *this;
}

PrometheusText& PrometheusText::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  return family(name, "counter", help).sample(name, value);
}

PrometheusText& PrometheusText::gauge(std::string_view name, std::string_view help, double value) {
  return family(name, "gauge", help).sample(name, value);
}

}  // namespace fednode
