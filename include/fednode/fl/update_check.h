#pragma once
// What an update must be before it is aggregated: the base model's parameter names and shapes,
// only finite values, and (with a bound) a change from the base no larger than `max_norm` times
// the base's own L2 norm. An update that fails is refused with the reason; the round goes on
// without it.
#include "fednode/fl/model_weights.h"

namespace fednode::fl {

Status check_update(const ModelWeights& base, const ModelWeights& update, double max_norm);

// L2 norm of a model's values, and of the difference of two models of the same layout.
double l2_norm(const ModelWeights& w);
double l2_distance(const ModelWeights& a, const ModelWeights& b);

}  // namespace fednode::fl
