#include "fednode/util/seeded_rng.h"
#include "fednode/fl/partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fednode::fl {
namespace {

// Our own generator and samplers, so shards are identical on every machine and compiler.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : base_(seed) {}
  std::uint64_t next() { return base_.next(); }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double normal() {
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
  }
  // Marsaglia and Tsang (2000); alpha < 1 through Gamma(alpha + 1) * U^(1/alpha).
  double gamma(double alpha) {
    if (alpha < 1.0) return gamma(alpha + 1.0) * std::pow(uniform(), 1.0 / alpha);
    double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = normal(), v = 1.0 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      double u = uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[next() % i]);
  }

 private:
  SeededRng base_;
};

}  // namespace

Shards partition_iid(std::size_t samples, std::size_t shards, std::uint64_t seed) {
  std::vector<std::uint32_t> order(samples);
  std::iota(order.begin(), order.end(), 0u);
  Rng rng(seed);
  rng.shuffle(order);
  Shards out(shards);
  for (std::size_t i = 0; i < order.size(); ++i) out[i % shards].push_back(order[i]);
  for (auto& s : out) std::sort(s.begin(), s.end());
  return out;
}

Status partition_dirichlet(const std::vector<std::int32_t>& labels, int classes, std::size_t shards,
                           double alpha, std::size_t min_shard_size, std::uint64_t seed, Shards* out) {
  if (shards == 0) return Status::error("partition: need at least one shard");
  if (!(alpha > 0)) return Status::error("partition: Dirichlet alpha must be positive, got " + std::to_string(alpha));
  if (min_shard_size * shards > labels.size()) {
    return Status::error("partition: " + std::to_string(labels.size()) + " samples cannot give " +
                         std::to_string(shards) + " shards of at least " + std::to_string(min_shard_size));
  }
  std::vector<std::vector<std::uint32_t>> by_class(static_cast<std::size_t>(classes));
  for (std::uint32_t i = 0; i < labels.size(); ++i) by_class.at(static_cast<std::size_t>(labels[i])).push_back(i);
  Rng rng(seed);
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Shards result(shards);
    for (auto members : by_class) {
      rng.shuffle(members);
      std::vector<double> p(shards);
      double total = 0;
      for (auto& x : p) total += (x = rng.gamma(alpha));
      // Cut points from the cumulative proportions.
      double acc = 0;
      std::size_t start = 0;
      for (std::size_t k = 0; k < shards; ++k) {
        acc += p[k] / total;
        std::size_t end = k + 1 == shards ? members.size()
                                          : std::min(members.size(), static_cast<std::size_t>(std::llround(acc * static_cast<double>(members.size()))));
        end = std::max(end, start);
        result[k].insert(result[k].end(), members.begin() + static_cast<std::ptrdiff_t>(start),
                         members.begin() + static_cast<std::ptrdiff_t>(end));
        start = end;
      }
    }
    bool big_enough = std::all_of(result.begin(), result.end(), [&](const auto& s) { return s.size() >= min_shard_size; });
    if (big_enough) {
      for (auto& s : result) std::sort(s.begin(), s.end());
      *out = std::move(result);
      return {};
    }
  }
  return Status::error("partition: no Dirichlet(" + std::to_string(alpha) + ") draw gave every one of " +
                       std::to_string(shards) + " shards " + std::to_string(min_shard_size) +
                       " samples in " + std::to_string(kAttempts) + " attempts; lower min_shard_size or raise alpha");
}

}  // namespace fednode::fl
