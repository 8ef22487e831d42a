#pragma once
// Aggregation rules that survive bad trainers: each looks at the updates coordinate by coordinate
// or as whole vectors and leaves out what is far from the rest, instead of averaging everything
// (one update scaled by 1,000 moves FedAvg's mean by as much). All take the updates as the
// trainers' full weights (not deltas) with the same layout, accumulate in double precision, and
// are deterministic: the same updates in any order give the same model, on any aggregator.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/fl/fedavg.h"
#include "fednode/fl/server_optimizer.h"

namespace fednode::fl {

// What `--aggregator` names (replicated in the run configuration). FedAvgM, FedAdam and FedYogi
// are server optimisers over the FedAvg average (server_optimizer.h), with a state.
enum class AggregatorKind { kFedAvg, kTrimmedMean, kMedian, kKrum, kMultiKrum, kFedAvgM, kFedAdam, kFedYogi };
std::optional<AggregatorKind> parse_aggregator(std::string_view name);
const char* aggregator_name(AggregatorKind kind);
// "fedavg | trimmed-mean | ...", for help texts and errors.
std::string aggregator_names();
// The server optimiser of a stateful kind, none for the others.
std::optional<ServerRule> server_rule(AggregatorKind kind);

// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, the floor(trim_fraction * n)
// lowest and highest values are dropped and the rest averaged, unweighted. trim_fraction in
// [0, 0.5); at least one value must remain.
Status trimmed_mean(const std::vector<ClientUpdate>& updates, double trim_fraction, ModelWeights* out);

// Coordinate-wise median (Yin et al. 2018), unweighted; the mean of the two middle values when n
// is even.
Status coordinate_median(const std::vector<ClientUpdate>& updates, ModelWeights* out);

// Krum and Multi-Krum (Blanchard et al. 2017) for at most `f` Byzantine updates among n: each
// update's score is the sum of squared distances to its n - f - 2 nearest others; Krum returns
// the update with the lowest score, Multi-Krum the sample-weighted mean of the `m` lowest (ties
// broken by position in the sorted order of the updates' contents, so order does not matter).
// Needs n >= 2f + 3. `chosen` (optional) gets the indexes of the selected updates.
Status multi_krum(const std::vector<ClientUpdate>& updates, std::size_t f, std::size_t m, ModelWeights* out,
                  std::vector<std::size_t>* chosen = nullptr);

struct AggregatorSettings {
  AggregatorKind kind = AggregatorKind::kFedAvg;
  double trim_fraction = 0.1;  // trimmed-mean
  std::size_t byzantine_f = 1;  // krum, multi-krum
  ServerOptimizer server;       // fedavgm, fedadam, fedyogi (its rule is set from `kind`)
};

// The rule `settings` names, over `updates`: for the server optimisers, the FedAvg average.
Status aggregate(const AggregatorSettings& settings, const std::vector<ClientUpdate>& updates, ModelWeights* out);

class UpdateRows;  // update_rows.h
// The rule over rows with `layout`'s parameters (the base model's), taking `chunk` coordinates of
// every row at a time (0: as many as fit 32 MiB over all rows), so memory does not grow with the
// number of updates as a whole model per update would; FedAvg and the server optimisers' average
// read one row at a time. Gives the same bytes as the in-memory functions above.
Status aggregate_rows(const AggregatorSettings& settings, const ModelWeights& layout, const UpdateRows& rows,
                      ModelWeights* out, std::size_t chunk = 0);
// From the rule's result (`aggregated`) to the round's model: the server optimiser's step for the
// stateful rules (with the next state), the result itself for the others.
Status finish_round(const AggregatorSettings& settings, const ModelWeights& base, const ModelWeights& state,
                    ModelWeights aggregated, ModelWeights* next, ModelWeights* next_state);
// One round's aggregation from the base model and the server state committed with it (no
// parameters: none yet): the next global model and, for the stateful rules, the next state
// (left without parameters by the stateless ones). A function of its inputs only.
Status aggregate_round(const AggregatorSettings& settings, const ModelWeights& base, const ModelWeights& state,
                       const std::vector<ClientUpdate>& updates, ModelWeights* next, ModelWeights* next_state);

}  // namespace fednode::fl
