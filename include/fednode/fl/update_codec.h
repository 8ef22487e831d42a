#pragma once
// How a trainer's update travels to the aggregator (`--update-encoding`, replicated):
//   fp32  the trained weights as a model blob (FNW1), 4 bytes a value: exact;
//   fp16  the change from the base model, IEEE half precision (round to nearest even): 2 bytes;
//   int8  the change from the base model, each block of 256 values of a tensor scaled to
//         [-127, 127] (scale = the block's largest magnitude / 127, round half away from zero):
//         1 byte a value plus 4 a block. A scale per tensor (what earlier versions sent, and still
//         decoded) let one large change set the step for all: on Fashion-MNIST's fc1 the largest
//         change is 11-13 times the RMS, and blocks halve the rounding error (2 % -> 1 %).
// fp16 and int8 values are deflated (zlib's fastest level; the decoder inflates into exactly
// the size the base's layout gives, so nothing inflates beyond it). Changes from earlier
// versions (not deflated; int8 with a scale per tensor) are still decoded.
// A delta blob ("FNU1") names the base model it is relative to; the aggregator decodes it
// against that base and refuses one made for another base or with another layout. Pure and
// deterministic: the same inputs give the same bytes on every machine.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/fl/model_weights.h"

namespace fednode::fl {

enum class UpdateEncoding : std::uint8_t { kFp32 = 0, kFp16 = 2, kInt8 = 3 };
std::optional<UpdateEncoding> parse_update_encoding(std::string_view name);

std::string encode_update(UpdateEncoding encoding, const ModelWeights& base, const std::string& base_id,
                          const ModelWeights& trained);
// The trained weights back: base + the decoded change (or the weights themselves for fp32).
Status decode_update(std::string_view bytes, const ModelWeights& base, const std::string& base_id, ModelWeights* out);

// The base model a delta blob (FNU1) is relative to; nullopt for anything else.
std::optional<std::string> delta_base_id(std::string_view bytes);

// IEEE 754 binary16 conversions (round to nearest even; overflow saturates to the largest
// finite half, 65504, so a finite value stays finite).
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

}  // namespace fednode::fl
