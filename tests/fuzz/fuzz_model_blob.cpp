// A model blob (a global model or a trainer's update) as fetched or uploaded: decoded, checked
// against a base model of the same layout as the update checks do, and written out again.
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/fl/model_weights.h"
#include "fednode/fl/update_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fednode::fl;
  ModelWeights w;
  if (!deserialize_weights(std::string_view(reinterpret_cast<const char*>(data), size), &w).ok()) return 0;
  (void)check_update(w, w, 10.0);
  // Written again, it reads back to the same bytes (compared as bytes: NaN != NaN).
  std::string bytes = serialize_weights(w);
  ModelWeights again;
  if (!deserialize_weights(bytes, &again).ok() || serialize_weights(again) != bytes) __builtin_trap();
  return 0;
}
