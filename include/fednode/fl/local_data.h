#pragma once
// A party's own data (--data PATH): read whole from its own file, never cut into shards unless
// the run asks for it. Formats: NumPy .npz (x_train, y_train, optional x_test, y_test), CSV with a
// header row, an image folder (train/<class>/*.png|jpg, optional test/<class>/...), and the
// built-in CIFAR-10 binary and Fashion-MNIST IDX directories. No libtorch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/fl/dataset.h"

namespace fednode::fl {

enum class Task { kClassification, kRegression };
std::optional<Task> parse_task(std::string_view name);
const char* task_name(Task t);

struct DataOptions {
  std::string format;        // npz | csv | imagefolder | cifar10 | fashion-mnist; "": from the path
  Task task = Task::kClassification;
  std::string label_column;  // CSV: the column holding the label or target ("": the last)
  std::string test_path;     // a separate test file in the same format ("": none)
  double test_fraction = 0;  // without a test set: this share of the samples, drawn by `seed`
  std::uint64_t seed = 1;
  // Image folders: every image decoded to `image_channels` (1 or 3), resized to image_size x
  // image_size (0: all must share the first one's size), then (pixel/255 - mean) / std per
  // channel (`normalize`: the means, then the standard deviations; empty: 0 and 1).
  int image_size = 0;
  int image_channels = 3;
  std::vector<float> normalize;
};

struct LocalData {
  Dataset train;
  Dataset test;  // empty when the party has no test split
};

// "npz", "csv", "cifar10", "fashion-mnist", or "" when the path says nothing.
std::string detect_data_format(const std::string& path);
const char* known_data_formats();

// Reads `path` (and o.test_path) whole. Every error names the file and, where it can, the array,
// row, column or sample, and what was expected.
Status load_local_data(const std::string& path, const DataOptions& o, LocalData* out);

// The readers behind it. An .npz from memory is what the fuzz target feeds.
Status load_npz(const std::string& path, Task task, LocalData* out);
Status load_npz_bytes(std::string_view bytes, const std::string& name, Task task, LocalData* out);
Status load_csv(const std::string& path, Task task, const std::string& label_column, Dataset* out);
Status load_csv_text(std::string_view text, const std::string& name, Task task, const std::string& label_column,
                     Dataset* out);
// Classes: ROOT/classes.txt (a name a line, the same file on every party) if present; else
// folder names that are class numbers (0, 1, ...). Anything else is refused: sorted names would
// number the classes differently on a party that lacks one.
Status load_image_folder(const std::string& root, const DataOptions& o, LocalData* out);
// One image file's bytes decoded as load_image_folder does (for the fuzz target).
Status decode_image(std::string_view bytes, const std::string& name, int channels, int size, int* width, int* height,
                    std::vector<std::uint8_t>* chw);

// Moves a deterministic `fraction` of `train` (a seeded shuffle) into `test`.
Status split_off_test(double fraction, std::uint64_t seed, Dataset* train, Dataset* test);

}  // namespace fednode::fl
