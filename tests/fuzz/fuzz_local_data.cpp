// A party's own data file as fednode reads it: the bytes as an .npz archive (both tasks), as
// CSV and as an image. Whatever is accepted is internally consistent: as many labels or target rows as samples,
// and a feature count that divides the features.
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/fl/local_data.h"
#include "fednode/fl/npy.h"

namespace {

void check(const fednode::fl::Dataset& d) {
  std::size_t per = d.feature_count();
  if (!d.features.empty() && !d.byte_features.empty()) __builtin_trap();
  if (per == 0 || d.feature_values() % per != 0) __builtin_trap();
  std::size_t n = d.feature_values() / per;
  if (d.regression() ? d.targets.size() != n * static_cast<std::size_t>(d.target_width) : d.labels.size() != n) __builtin_trap();
  for (auto l : d.labels) {
    if (l < 0 || l >= d.classes) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fednode::fl;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (Task task : {Task::kClassification, Task::kRegression}) {
    LocalData d;
    if (load_npz_bytes(input, "fuzz.npz", task, &d).ok()) {
      check(d.train);
      if (d.test.size() > 0) check(d.test);
    }
    Dataset csv;
    if (load_csv_text(input, "fuzz.csv", task, "", &csv).ok()) check(csv);
  }
  NpyHeader h;
  (void)parse_npy_header(input, &h);
  // One image of an image folder (Debian's libstb decodes it; the bounds around it are ours).
  int w = 0, hh = 0;
  std::vector<std::uint8_t> chw;
  for (int channels : {1, 3}) {
    if (decode_image(input, "fuzz.png", channels, channels == 3 ? 16 : 0, &w, &hh, &chw).ok() &&
        chw.size() != static_cast<std::size_t>(w) * hh * channels) {
      __builtin_trap();
    }
  }
  return 0;
}
