#pragma once
// A party's own data (--data PATH): read whole from its own file, never cut into shards unless
// the run asks for it. Formats: NumPy .npz (x_train, y_train, optional x_test, y_test), CSV with a
// header row, and the built-in CIFAR-10 binary and Fashion-MNIST IDX directories. No libtorch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/fl/dataset.h"

namespace fednode::fl {

enum class Task { kClassification, kRegression };
std::optional<Task> parse_task(std::string_view name);
const char* task_name(Task t);

struct DataOptions {
  std::string format;        // npz | csv | cifar10 | fashion-mnist; "": from the path
  Task task = Task::kClassification;
  std::string label_column;  // CSV: the column holding the label or target ("": the last)
  std::string test_path;     // a separate test file in the same format ("": none)
  double test_fraction = 0;  // without a test set: this share of the samples, drawn by `seed`
  std::uint64_t seed = 1;
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

// Moves a deterministic `fraction` of `train` (a seeded shuffle) into `test`.
Status split_off_test(double fraction, std::uint64_t seed, Dataset* train, Dataset* test);

}  // namespace fednode::fl
