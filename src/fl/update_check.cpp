#include "fednode/fl/update_check.h"

#include <cmath>
#include <cstdio>

namespace fednode::fl {

double l2_norm(const ModelWeights& w) {
  double sum = 0;
  for (const auto& p : w.parameters) {
    for (float v : p.values) sum += static_cast<double>(v) * v;
  }
  return std::sqrt(sum);
}

double l2_distance(const ModelWeights& a, const ModelWeights& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.parameters.size() && i < b.parameters.size(); ++i) {
    const auto& x = a.parameters[i].values;
    const auto& y = b.parameters[i].values;
    for (std::size_t k = 0; k < x.size() && k < y.size(); ++k) {
      double d = static_cast<double>(x[k]) - y[k];
      sum += d * d;
    }
  }
  return std::sqrt(sum);
}

Status check_update(const ModelWeights& base, const ModelWeights& update, double max_norm) {
  if (Status s = same_layout(base, update); !s.ok()) return s;
  for (std::size_t i = 0; i < update.parameters.size(); ++i) {
    const Parameter& p = update.parameters[i];
    if (p.values.size() != base.parameters[i].values.size()) {
      return Status::error("parameter " + p.name + " holds " + std::to_string(p.values.size()) + " values, expected " +
                           std::to_string(base.parameters[i].values.size()));
    }
    for (std::size_t k = 0; k < p.values.size(); ++k) {
      if (!std::isfinite(p.values[k])) {
        return Status::error("parameter " + p.name + " holds a non-finite value at element " + std::to_string(k));
      }
    }
  }
  if (max_norm > 0) {
    double change = l2_distance(base, update), allowed = max_norm * l2_norm(base);
    if (change > allowed) {
      char text[160];
      std::snprintf(text, sizeof text, "change from the base model has norm %.4g, over the bound %.4g (--max-update-norm %g)",
                    change, allowed, max_norm);
      return Status::error(text);
    }
  }
  return {};
}

}  // namespace fednode::fl
