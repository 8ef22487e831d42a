#pragma once
// FedAvg over ModelWeights (the server optimisers that build on it: server_optimizer.h).
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

}  // namespace fednode::fl
