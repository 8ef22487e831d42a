#pragma once
// Server optimisers: rules that turn a round's average into the next global model with a state
// carried from round to round (FedAvgM's momentum, FedAdam's and FedYogi's moments).
//
// The state is a value, not a member: it travels as a ModelWeights blob with one parameter per
// slot and model parameter ("velocity/conv1.weight", "m/...", "v/..."), float32 like the model,
// committed with the round (RoundRecord::server_state_id) and stored on a majority of voters
// before the commit, exactly like the model. A step reads it back from those bytes every round,
// so whichever node aggregates next, given the same blobs, computes the same next model and state
// bytes: a change of aggregator continues the optimiser exactly.
#include "fednode/fl/model_weights.h"

namespace fednode::fl {

enum class ServerRule { kFedAvgM, kFedAdam, kFedYogi };

struct ServerOptimizer {
  ServerRule rule = ServerRule::kFedAvgM;
  double lr = 1.0;                    // FedAvgM: server learning rate; FedAdam/FedYogi: eta
  double momentum = 0.9;              // FedAvgM
  double beta1 = 0.9, beta2 = 0.99;   // FedAdam, FedYogi
  double tau = 1e-3;                  // FedAdam, FedYogi: how far small second moments are damped
};

// The learning rate a rule uses when none is given: FedAvgM 1 (plain FedAvg plus momentum),
// FedAdam and FedYogi 0.01 (Reddi et al.'s range for image models; Flower's FedYogi default).
double default_server_lr(ServerRule rule);

// FedAvgM (Hsu et al. 2019), on the pseudo-gradient d = global - average:
//   v = momentum v + d;  next = global - lr v
// FedAdam and FedYogi (Reddi et al. 2021), on d = average - global:
//   m = b1 m + (1 - b1) d
//   v = b2 v + (1 - b2) d^2                      (Adam)
//   v = v - (1 - b2) d^2 sign(v - d^2)           (Yogi)
//   next = global + lr m / (sqrt(v) + tau)
// `state` with no parameters is the first round's zero state; otherwise it must have this
// rule's slots over the model's layout (an error names what does not match). Arithmetic is in
// double, the results are stored as float32.
Status server_step(const ServerOptimizer& opt, const ModelWeights& global, const ModelWeights& average,
                   const ModelWeights& state, ModelWeights* next, ModelWeights* next_state);

}  // namespace fednode::fl
