#include "fednode/fl/fedavg.h"

namespace fednode::fl {

Status fedavg(const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  if (updates.empty()) return Status::error("fedavg: no updates");
  std::uint64_t total = 0;
  for (std::size_t u = 0; u < updates.size(); ++u) {
    if (Status s = same_layout(updates[0].weights, updates[u].weights); !s.ok()) {
      return Status::error("fedavg: update " + std::to_string(u) + ": " + s.message());
    }
    total += updates[u].samples;
  }
  if (total == 0) return Status::error("fedavg: updates carry zero samples in total");
  ModelWeights result = updates[0].weights;
  for (std::size_t p = 0; p < result.parameters.size(); ++p) {
    std::vector<double> acc(result.parameters[p].values.size(), 0.0);
    for (const auto& u : updates) {
      double w = static_cast<double>(u.samples) / static_cast<double>(total);
      const auto& v = u.weights.parameters[p].values;
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += w * v[i];
    }
    for (std::size_t i = 0; i < acc.size(); ++i) result.parameters[p].values[i] = static_cast<float>(acc[i]);
  }
  *out = std::move(result);
  return {};
}

}  // namespace fednode::fl
