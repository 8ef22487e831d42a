#include "fednode/fl/attack.h"

#include <random>

namespace fednode::fl {

std::optional<Attack> parse_attack(std::string_view name) {
  if (name == "none") return Attack::kNone;
  if (name == "sign-flip") return Attack::kSignFlip;
  if (name == "noise") return Attack::kNoise;
  if (name == "constant") return Attack::kConstant;
  return std::nullopt;
}

void apply_attack(Attack attack, const ModelWeights& base, std::uint64_t seed, ModelWeights* trained) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (std::size_t p = 0; p < trained->parameters.size(); ++p) {
    auto& values = trained->parameters[p].values;
    const auto& from = base.parameters[p].values;
    for (std::size_t i = 0; i < values.size(); ++i) {
      switch (attack) {
        case Attack::kNone: break;
        case Attack::kSignFlip: values[i] = from[i] - 10.0f * (values[i] - from[i]); break;
        case Attack::kNoise: values[i] += noise(rng); break;
        case Attack::kConstant: values[i] = 0.0f; break;
      }
    }
  }
}

}  // namespace fednode::fl
