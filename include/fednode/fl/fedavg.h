#pragma once
// Server-side aggregation strategies over ModelWeights.
#include <cstdint>
#include <vector>

#include "fednode/fl/model_weights.h"

namespace fednode::fl {

struct ClientUpdate {
  ModelWeights weights;
  std::uint64_t samples = 0;  // weight of this update
};

// FedAvg (McMahan et al. 2017): the sample-weighted mean of the updates' weights, accumulated in
// double precision. Errors on no updates, zero total samples, or mismatched layouts.
Status fedavg(const std::vector<ClientUpdate>& updates, ModelWeights* out);

// FedAvgM (Hsu et al. 2019): server momentum over the FedAvg pseudo-gradient
//   delta = global - fedavg(updates);  v = momentum * v + delta;  global -= server_lr * v
class FedAvgM {
 public:
  FedAvgM(double server_lr, double momentum) : lr_(server_lr), momentum_(momentum) {}
  Status step(const ModelWeights& global, const std::vector<ClientUpdate>& updates, ModelWeights* out);

 private:
  double lr_, momentum_;
  std::vector<std::vector<double>> velocity_;
};

}  // namespace fednode::fl
