#include "fednode/fl/robust_aggregation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fednode::fl {
namespace {

Status check_layouts(const char* rule, const std::vector<ClientUpdate>& updates) {
  if (updates.empty()) return Status::error(std::string(rule) + ": no updates");
  for (std::size_t u = 1; u < updates.size(); ++u) {
    if (Status s = same_layout(updates[0].weights, updates[u].weights); !s.ok()) {
      return Status::error(std::string(rule) + ": update " + std::to_string(u) + ": " + s.message());
    }
  }
  return {};
}

// Applies `combine` to the n values of every coordinate (sorted ascending) and writes the result.
template <typename Combine>
ModelWeights per_coordinate(const std::vector<ClientUpdate>& updates, Combine combine) {
  ModelWeights result = updates[0].weights;
  std::vector<double> column(updates.size());
  for (std::size_t p = 0; p < result.parameters.size(); ++p) {
    auto& values = result.parameters[p].values;
    for (std::size_t i = 0; i < values.size(); ++i) {
      for (std::size_t u = 0; u < updates.size(); ++u) column[u] = updates[u].weights.parameters[p].values[i];
      std::sort(column.begin(), column.end());
      values[i] = static_cast<float>(combine(column));
    }
  }
  return result;
}

double squared_distance(const ModelWeights& a, const ModelWeights& b) {
  double sum = 0;
  for (std::size_t p = 0; p < a.parameters.size(); ++p) {
    const auto& x = a.parameters[p].values;
    const auto& y = b.parameters[p].values;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double d = static_cast<double>(x[i]) - y[i];
      sum += d * d;
    }
  }
  return sum;
}

bool values_less(const ModelWeights& a, const ModelWeights& b) {
  for (std::size_t p = 0; p < a.parameters.size(); ++p) {
    const auto& x = a.parameters[p].values;
    const auto& y = b.parameters[p].values;
    if (x != y) return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
  }
  return false;
}

constexpr AggregatorKind kAllKinds[] = {AggregatorKind::kFedAvg,  AggregatorKind::kFedAvgM,     AggregatorKind::kFedAdam,
                                        AggregatorKind::kFedYogi, AggregatorKind::kTrimmedMean, AggregatorKind::kMedian,
                                        AggregatorKind::kKrum,    AggregatorKind::kMultiKrum};

}  // namespace

std::optional<AggregatorKind> parse_aggregator(std::string_view name) {
  for (auto kind : kAllKinds) {
    if (name == aggregator_name(kind)) return kind;
  }
  return std::nullopt;
}

std::string aggregator_names() {
  std::string out;
  for (auto kind : kAllKinds) out += (out.empty() ? "" : "|") + std::string(aggregator_name(kind));
  return out;
}

std::optional<ServerRule> server_rule(AggregatorKind kind) {
  switch (kind) {
    case AggregatorKind::kFedAvgM: return ServerRule::kFedAvgM;
    case AggregatorKind::kFedAdam: return ServerRule::kFedAdam;
    case AggregatorKind::kFedYogi: return ServerRule::kFedYogi;
    default: return std::nullopt;
  }
}

const char* aggregator_name(AggregatorKind kind) {
  switch (kind) {
    case AggregatorKind::kFedAvg: return "fedavg";
    case AggregatorKind::kTrimmedMean: return "trimmed-mean";
    case AggregatorKind::kMedian: return "median";
    case AggregatorKind::kKrum: return "krum";
    case AggregatorKind::kMultiKrum: return "multi-krum";
    case AggregatorKind::kFedAvgM: return "fedavgm";
    case AggregatorKind::kFedAdam: return "fedadam";
    case AggregatorKind::kFedYogi: return "fedyogi";
  }
  return "?";
}

Status trimmed_mean(const std::vector<ClientUpdate>& updates, double trim_fraction, ModelWeights* out) {
  if (Status s = check_layouts("trimmed-mean", updates); !s.ok()) return s;
  if (!(trim_fraction >= 0 && trim_fraction < 0.5)) {
    return Status::error("trimmed-mean: --trim-fraction " + std::to_string(trim_fraction) + " is not in [0, 0.5)");
  }
  const std::size_t n = updates.size();
  const auto cut = static_cast<std::size_t>(std::floor(trim_fraction * static_cast<double>(n)));
  *out = per_coordinate(updates, [&](const std::vector<double>& sorted) {
    double sum = std::accumulate(sorted.begin() + static_cast<std::ptrdiff_t>(cut),
                                 sorted.end() - static_cast<std::ptrdiff_t>(cut), 0.0);
    return sum / static_cast<double>(n - 2 * cut);
  });
  return {};
}

Status coordinate_median(const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  if (Status s = check_layouts("median", updates); !s.ok()) return s;
  const std::size_t n = updates.size();
  *out = per_coordinate(updates, [&](const std::vector<double>& sorted) {
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  });
  return {};
}

Status multi_krum(const std::vector<ClientUpdate>& updates, std::size_t f, std::size_t m, ModelWeights* out,
                  std::vector<std::size_t>* chosen) {
  if (Status s = check_layouts("krum", updates); !s.ok()) return s;
  const std::size_t n = updates.size();
  if (n < 2 * f + 3) {
    return Status::error("krum: " + std::to_string(n) + " updates are too few for --byzantine-f " + std::to_string(f) +
                         " (needs 2f + 3 = " + std::to_string(2 * f + 3) + ")");
  }
  if (m == 0 || m > n) return Status::error("krum: cannot select " + std::to_string(m) + " of " + std::to_string(n));
  std::vector<std::vector<double>> dist(n, std::vector<double>(n, 0.0));
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) dist[a][b] = dist[b][a] = squared_distance(updates[a].weights, updates[b].weights);
  }
  std::vector<double> score(n);
  for (std::size_t a = 0; a < n; ++a) {
    std::vector<double> others;
    for (std::size_t b = 0; b < n; ++b) {
      if (b != a) others.push_back(dist[a][b]);
    }
    std::sort(others.begin(), others.end());
    score[a] = std::accumulate(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(n - f - 2), 0.0);
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (score[a] != score[b]) return score[a] < score[b];
    return values_less(updates[a].weights, updates[b].weights);
  });
  order.resize(m);
  std::vector<ClientUpdate> selected;
  for (std::size_t i : order) selected.push_back(updates[i]);
  if (chosen) *chosen = order;
  if (m == 1) {
    *out = selected[0].weights;
    return {};
  }
  return fedavg(selected, out);
}

Status aggregate(const AggregatorSettings& settings, const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  switch (settings.kind) {
    case AggregatorKind::kFedAvg:
    case AggregatorKind::kFedAvgM:
    case AggregatorKind::kFedAdam:
    case AggregatorKind::kFedYogi: return fedavg(updates, out);
    case AggregatorKind::kTrimmedMean: return trimmed_mean(updates, settings.trim_fraction, out);
    case AggregatorKind::kMedian: return coordinate_median(updates, out);
    case AggregatorKind::kKrum: return multi_krum(updates, settings.byzantine_f, 1, out);
    case AggregatorKind::kMultiKrum: {
      std::size_t n = updates.size(), f = settings.byzantine_f;
      return multi_krum(updates, f, n > f ? n - f : 1, out);
    }
  }
  return Status::error("unknown aggregator");
}

Status aggregate_round(const AggregatorSettings& settings, const ModelWeights& base, const ModelWeights& state,
                       const std::vector<ClientUpdate>& updates, ModelWeights* next, ModelWeights* next_state) {
  *next_state = ModelWeights{};
  std::optional<ServerRule> rule = server_rule(settings.kind);
  if (!rule) {
    if (!state.parameters.empty()) {
      return Status::error(std::string(aggregator_name(settings.kind)) + " keeps no server state, but one was given");
    }
    return aggregate(settings, updates, next);
  }
  ModelWeights average;
  if (Status s = aggregate(settings, updates, &average); !s.ok()) return s;
  ServerOptimizer opt = settings.server;
  opt.rule = *rule;
  return server_step(opt, base, average, state, next, next_state);
}

}  // namespace fednode::fl
