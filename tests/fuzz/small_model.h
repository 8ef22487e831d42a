#pragma once
// The small model the fuzz seeds are made from, and the base the model-blob target decodes
// updates against (so that seeded updates match its layout).
#include "fednode/fl/model_weights.h"

namespace fednode::fuzz {

inline fl::ModelWeights small_model() {
  fl::ModelWeights w;
  w.parameters.push_back({"conv.bias", {2}, {0.5f, -0.25f}});
  w.parameters.push_back({"conv.weight", {2, 2}, {1.f, 2.f, 3.f, 4.f}});
  return w;
}

}  // namespace fednode::fuzz
