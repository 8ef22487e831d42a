// A model blob (a global model or a trainer's update) as fetched or uploaded: decoded, checked
// against a base model of the same layout as the update checks do, and written out again; and
// the same bytes as a compressed update (fp16/int8 change) against the seeds' base model.
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/fl/model_weights.h"
#include "fednode/fl/update_check.h"
#include "fednode/fl/update_codec.h"
#include "small_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fednode::fl;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const ModelWeights base = fednode::fuzz::small_model();
  static const std::string base_id = model_id(base);
  ModelWeights update;
  if (decode_update(input, base, base_id, &update).ok()) {
    if (!same_layout(base, update).ok()) __builtin_trap();  // whatever decodes has the base's layout
    (void)check_update(base, update, 10.0);
  }
  ModelWeights w;
  if (!deserialize_weights(input, &w).ok()) return 0;
  (void)check_update(w, w, 10.0);
  // Written again, it reads back to the same bytes (compared as bytes: NaN != NaN).
  std::string bytes = serialize_weights(w);
  ModelWeights again;
  if (!deserialize_weights(bytes, &again).ok() || serialize_weights(again) != bytes) __builtin_trap();
  return 0;
}
