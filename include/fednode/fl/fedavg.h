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

// FedAdam and FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization"), server side, with
// Flower's defaults: the pseudo-gradient delta = fedavg(updates) - global, then
//   m = b1 m + (1 - b1) delta
//   v = b2 v + (1 - b2) delta^2                          (Adam)
//   v = v - (1 - b2) delta^2 sign(v - delta^2)           (Yogi)
//   global += eta m / (sqrt(v) + tau)
// Its state (m, v) must survive a change of aggregator to continue a run exactly; the daemon does
// not use these yet (see the README's Robust aggregation).
class ServerAdaptive {
 public:
  enum class Rule { kAdam, kYogi };
  explicit ServerAdaptive(Rule rule, double eta = 0.1, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-9)
      : rule_(rule), eta_(eta), beta1_(beta1), beta2_(beta2), tau_(tau) {}
  Status step(const ModelWeights& global, const std::vector<ClientUpdate>& updates, ModelWeights* out);

 private:
  Rule rule_;
  double eta_, beta1_, beta2_, tau_;
  std::vector<std::vector<double>> m_, v_;
};

}  // namespace fednode::fl
