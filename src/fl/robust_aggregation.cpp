#include "fednode/fl/robust_aggregation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fednode/fl/update_rows.h"

namespace fednode::fl {
namespace {

constexpr std::size_t kChunkBudgetValues = std::size_t{8} << 20;  // 32 MiB of float32 over all rows


Status check_layouts(const char* rule, const std::vector<ClientUpdate>& updates) {
  if (updates.empty()) return Status::error(std::string(rule) + ": no updates");
  for (std::size_t u = 1; u < updates.size(); ++u) {
    if (Status s = same_layout(updates[0].weights, updates[u].weights); !s.ok()) {
      return Status::error(std::string(rule) + ": update " + std::to_string(u) + ": " + s.message());
    }
  }
  return {};
}

// Coordinates per chunk: all rows' values of one chunk stay within the budget.
std::size_t chunk_for(std::size_t rows, std::size_t coordinates, std::size_t asked) {
  std::size_t c = asked != 0 ? asked : std::max<std::size_t>(1024, kChunkBudgetValues / std::max<std::size_t>(rows, 1));
  return std::max<std::size_t>(1, std::min(c, coordinates));
}

// Writes flat values into a copy of `layout`'s parameters.
ModelWeights unflatten(const ModelWeights& layout, const std::vector<float>& flat) {
  ModelWeights out = layout;
  std::size_t at = 0;
  for (auto& p : out.parameters) {
    std::size_t n = 1;
    for (auto d : p.shape) n *= static_cast<std::size_t>(d);
    p.values.assign(flat.begin() + static_cast<std::ptrdiff_t>(at), flat.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return out;
}

std::size_t coordinates_of(const ModelWeights& layout) {
  std::size_t n = 0;
  for (const auto& p : layout.parameters) {
    std::size_t c = 1;
    for (auto d : p.shape) c *= static_cast<std::size_t>(d);
    n += c;
  }
  return n;
}

// Calls `visit(begin, count, values)` for each chunk, with values[r * count + i] the coordinate
// begin + i of row r.
template <typename Visit>
Status for_each_chunk(const UpdateRows& rows, std::size_t coordinates, std::size_t chunk, Visit visit) {
  std::vector<float> buffer;
  for (std::size_t begin = 0; begin < coordinates; begin += chunk) {
    std::size_t count = std::min(chunk, coordinates - begin);
    buffer.resize(rows.size() * count);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (Status s = rows.read(r, begin, count, buffer.data() + r * count); !s.ok()) return s;
    }
    visit(begin, count, buffer);
  }
  return {};
}

// Applies `combine` to the n values of every coordinate (sorted ascending).
template <typename Combine>
Status per_coordinate(const ModelWeights& layout, const UpdateRows& rows, std::size_t chunk, Combine combine,
                      ModelWeights* out) {
  const std::size_t n = rows.size(), d = coordinates_of(layout);
  std::vector<float> result(d);
  std::vector<double> column(n);
  Status s = for_each_chunk(rows, d, chunk_for(n, d, chunk), [&](std::size_t begin, std::size_t count,
                                                                  const std::vector<float>& values) {
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t r = 0; r < n; ++r) column[r] = values[r * count + i];
      std::sort(column.begin(), column.end());
      result[begin + i] = static_cast<float>(combine(column));
    }
  });
  if (!s.ok()) return s;
  *out = unflatten(layout, result);
  return {};
}

Status read_row(const UpdateRows& rows, std::size_t r, const ModelWeights& layout, ModelWeights* out) {
  std::vector<float> flat(coordinates_of(layout));
  if (Status s = rows.read(r, 0, flat.size(), flat.data()); !s.ok()) return s;
  *out = unflatten(layout, flat);
  return {};
}

// Lexicographic order of two rows' coordinates, read a chunk at a time.
Status row_less(const UpdateRows& rows, std::size_t a, std::size_t b, std::size_t d, std::size_t chunk, bool* less) {
  std::vector<float> x(chunk), y(chunk);
  *less = false;
  for (std::size_t begin = 0; begin < d; begin += chunk) {
    std::size_t count = std::min(chunk, d - begin);
    if (Status s = rows.read(a, begin, count, x.data()); !s.ok()) return s;
    if (Status s = rows.read(b, begin, count, y.data()); !s.ok()) return s;
    auto mismatch = std::mismatch(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(count), y.begin());
    if (mismatch.first != x.begin() + static_cast<std::ptrdiff_t>(count)) {
      *less = *mismatch.first < *mismatch.second;
      return {};
    }
  }
  return {};
}

Status trimmed_mean_rows(const ModelWeights& layout, const UpdateRows& rows, double trim_fraction, std::size_t chunk,
                         ModelWeights* out) {
  if (rows.size() == 0) return Status::error("trimmed-mean: no updates");
  if (!(trim_fraction >= 0 && trim_fraction < 0.5)) {
    return Status::error("trimmed-mean: --trim-fraction " + std::to_string(trim_fraction) + " is not in [0, 0.5)");
  }
  const std::size_t n = rows.size();
  const auto cut = static_cast<std::size_t>(std::floor(trim_fraction * static_cast<double>(n)));
  return per_coordinate(layout, rows, chunk, [&](const std::vector<double>& sorted) {
    double sum = std::accumulate(sorted.begin() + static_cast<std::ptrdiff_t>(cut),
                                 sorted.end() - static_cast<std::ptrdiff_t>(cut), 0.0);
    return sum / static_cast<double>(n - 2 * cut);
  }, out);
}

Status median_rows(const ModelWeights& layout, const UpdateRows& rows, std::size_t chunk, ModelWeights* out) {
  if (rows.size() == 0) return Status::error("median: no updates");
  const std::size_t n = rows.size();
  return per_coordinate(layout, rows, chunk, [&](const std::vector<double>& sorted) {
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }, out);
}

Status multi_krum_rows(const ModelWeights& layout, const UpdateRows& rows, std::size_t f, std::size_t m,
                       std::size_t chunk, ModelWeights* out, std::vector<std::size_t>* chosen) {
  const std::size_t n = rows.size(), d = coordinates_of(layout);
  if (n < 2 * f + 3) {
    return Status::error("krum: " + std::to_string(n) + " updates are too few for --byzantine-f " + std::to_string(f) +
                         " (needs 2f + 3 = " + std::to_string(2 * f + 3) + ")");
  }
  if (m == 0 || m > n) return Status::error("krum: cannot select " + std::to_string(m) + " of " + std::to_string(n));
  chunk = chunk_for(n, d, chunk);
  std::vector<std::vector<double>> dist(n, std::vector<double>(n, 0.0));
  Status s = for_each_chunk(rows, d, chunk, [&](std::size_t, std::size_t count, const std::vector<float>& values) {
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = a + 1; b < n; ++b) {
        double sum = dist[a][b];
        for (std::size_t i = 0; i < count; ++i) {
          double diff = static_cast<double>(values[a * count + i]) - values[b * count + i];
          sum += diff * diff;
        }
        dist[a][b] = dist[b][a] = sum;
      }
    }
  });
  if (!s.ok()) return s;
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
  Status compare;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (score[a] != score[b]) return score[a] < score[b];
    bool less = false;
    if (Status t = row_less(rows, a, b, d, chunk, &less); !t.ok() && compare.ok()) compare = t;
    return less;
  });
  if (!compare.ok()) return compare;
  order.resize(m);
  if (chosen) *chosen = order;
  if (m == 1) return read_row(rows, order[0], layout, out);
  WeightedSum sum;
  for (std::size_t r : order) {
    ModelWeights one;
    if (Status t = read_row(rows, r, layout, &one); !t.ok()) return t;
    if (Status t = sum.add(one, rows.samples(r)); !t.ok()) return t;
  }
  return sum.mean(out);
}

// The mean of rows, read one row at a time.
Status mean_rows(const ModelWeights& layout, const UpdateRows& rows, ModelWeights* out) {
  WeightedSum sum;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    ModelWeights one;
    if (Status s = read_row(rows, r, layout, &one); !s.ok()) return s;
    if (Status s = sum.add(one, rows.samples(r)); !s.ok()) return s;
  }
  return sum.mean(out);
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
  for (auto kind : kAllKinds) {
    if (!out.empty()) out += '|';
    out += aggregator_name(kind);
  }
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
  return trimmed_mean_rows(updates[0].weights, MemoryRows(updates), trim_fraction, 0, out);
}

Status coordinate_median(const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  if (Status s = check_layouts("median", updates); !s.ok()) return s;
  return median_rows(updates[0].weights, MemoryRows(updates), 0, out);
}

Status multi_krum(const std::vector<ClientUpdate>& updates, std::size_t f, std::size_t m, ModelWeights* out,
                  std::vector<std::size_t>* chosen) {
  if (Status s = check_layouts("krum", updates); !s.ok()) return s;
  return multi_krum_rows(updates[0].weights, MemoryRows(updates), f, m, 0, out, chosen);
}

Status aggregate_rows(const AggregatorSettings& settings, const ModelWeights& layout, const UpdateRows& rows,
                      ModelWeights* out, std::size_t chunk) {
  if (rows.size() == 0) return Status::error(std::string(aggregator_name(settings.kind)) + ": no updates");
  switch (settings.kind) {
    case AggregatorKind::kFedAvg:
    case AggregatorKind::kFedAvgM:
    case AggregatorKind::kFedAdam:
    case AggregatorKind::kFedYogi: return mean_rows(layout, rows, out);
    case AggregatorKind::kTrimmedMean: return trimmed_mean_rows(layout, rows, settings.trim_fraction, chunk, out);
    case AggregatorKind::kMedian: return median_rows(layout, rows, chunk, out);
    case AggregatorKind::kKrum: return multi_krum_rows(layout, rows, settings.byzantine_f, 1, chunk, out, nullptr);
    case AggregatorKind::kMultiKrum: {
      std::size_t n = rows.size(), f = settings.byzantine_f;
      return multi_krum_rows(layout, rows, f, n > f ? n - f : 1, chunk, out, nullptr);
    }
  }
  return Status::error("unknown aggregator");
}

Status aggregate(const AggregatorSettings& settings, const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  if (server_rule(settings.kind) || settings.kind == AggregatorKind::kFedAvg) return fedavg(updates, out);
  if (Status s = check_layouts(aggregator_name(settings.kind), updates); !s.ok()) return s;
  return aggregate_rows(settings, updates[0].weights, MemoryRows(updates), out);
}

Status finish_round(const AggregatorSettings& settings, const ModelWeights& base, const ModelWeights& state,
                    ModelWeights aggregated, ModelWeights* next, ModelWeights* next_state) {
  *next_state = ModelWeights{};
  std::optional<ServerRule> rule = server_rule(settings.kind);
  if (!rule) {
    if (!state.parameters.empty()) {
      return Status::error(std::string(aggregator_name(settings.kind)) + " keeps no server state, but one was given");
    }
    *next = std::move(aggregated);
    return {};
  }
  ServerOptimizer opt = settings.server;
  opt.rule = *rule;
  return server_step(opt, base, aggregated, state, next, next_state);
}

Status aggregate_round(const AggregatorSettings& settings, const ModelWeights& base, const ModelWeights& state,
                       const std::vector<ClientUpdate>& updates, ModelWeights* next, ModelWeights* next_state) {
  *next_state = ModelWeights{};
  if (!server_rule(settings.kind) && !state.parameters.empty()) {
    return Status::error(std::string(aggregator_name(settings.kind)) + " keeps no server state, but one was given");
  }
  ModelWeights aggregated;
  if (Status s = aggregate(settings, updates, &aggregated); !s.ok()) return s;
  return finish_round(settings, base, state, std::move(aggregated), next, next_state);
}

}  // namespace fednode::fl
