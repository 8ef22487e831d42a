#include "fednode/fl/fedavg.h"

#include "fednode/fl/update_rows.h"

namespace fednode::fl {

Status fedavg(const std::vector<ClientUpdate>& updates, ModelWeights* out) {
  WeightedSum sum;
  for (const auto& u : updates) {
    if (Status s = sum.add(u.weights, u.samples); !s.ok()) return Status::error("fedavg: " + s.message());
  }
  return sum.mean(out);
}

}  // namespace fednode::fl
