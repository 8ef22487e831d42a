#pragma once
// For tests and experiments only: how a malicious trainer corrupts its update before it uploads
// it (`--attack`, a local flag of that trainer). The robust aggregators are measured against these.
//   sign-flip  base - 10 * (trained - base): the update pushes ten times as hard the wrong way
//   noise      trained + N(0, 1) on every value
//   constant   every value 0
// The corrupted update keeps the model's names and shapes and finite values, so the update check
// passes it (with --max-update-norm, sign-flip and noise may be refused).
#include <cstdint>
#include <optional>
#include <string_view>

#include "fednode/fl/model_weights.h"

namespace fednode::fl {

enum class Attack { kNone, kSignFlip, kNoise, kConstant };
std::optional<Attack> parse_attack(std::string_view name);  // none | sign-flip | noise | constant
void apply_attack(Attack attack, const ModelWeights& base, std::uint64_t seed, ModelWeights* trained);

}  // namespace fednode::fl
