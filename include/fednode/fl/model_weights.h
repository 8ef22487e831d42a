#pragma once
// ModelWeights: a model's parameters as plain float arrays with names and shapes, the form in
// which models travel, are stored, hashed and averaged. No libtorch here.
//
// Canonical bytes (what the model id hashes): "FNW1", u32 parameter count, then per parameter
// in name order: u32 name length, name, u32 rank, u64 dims..., u8 dtype (1 = float32),
// u64 element count, elements as little-endian IEEE-754 float32.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/util/blob_id.h"
#include "fednode/util/status.h"

namespace fednode::fl {

using ::fednode::sha256_hex;  // blob ids (util/blob_id.h)

struct Parameter {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  friend bool operator==(const Parameter&, const Parameter&) = default;
};

struct ModelWeights {
  std::vector<Parameter> parameters;  // sorted by name
  std::size_t parameter_count() const;
  friend bool operator==(const ModelWeights&, const ModelWeights&) = default;
};

std::string serialize_weights(const ModelWeights& weights);
Status deserialize_weights(std::string_view bytes, ModelWeights* out);

// SHA-256 of the canonical bytes, lower-case hex: the model id.
inline std::string model_id(const ModelWeights& w) { return sha256_hex(serialize_weights(w)); }

// Checks that `b` has the same parameter names and shapes as `a`.
Status same_layout(const ModelWeights& a, const ModelWeights& b);

}  // namespace fednode::fl
