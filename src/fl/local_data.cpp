#include "fednode/fl/local_data.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "fednode/util/file_io.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::fl {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Keeps the samples of `d` at `keep` (ascending), in that order.
Dataset select(const Dataset& d, const std::vector<std::uint32_t>& keep) {
  Dataset out;
  out.name = d.name;
  out.channels = d.channels, out.height = d.height, out.width = d.width;
  out.norm_mean = d.norm_mean, out.norm_std = d.norm_std;
  out.feature_shape = d.feature_shape;
  out.classes = d.classes;
  out.target_width = d.target_width;
  std::size_t per = d.images() ? d.image_bytes() : d.feature_count();
  auto tw = static_cast<std::size_t>(d.target_width);
  for (auto i : keep) {
    if (d.images()) {
      out.pixels.insert(out.pixels.end(), d.pixels.begin() + static_cast<std::ptrdiff_t>(i * per),
                        d.pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
    } else if (!d.byte_features.empty()) {
      out.byte_features.insert(out.byte_features.end(), d.byte_features.begin() + static_cast<std::ptrdiff_t>(i * per),
                               d.byte_features.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
    } else {
      out.features.insert(out.features.end(), d.features.begin() + static_cast<std::ptrdiff_t>(i * per),
                          d.features.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
    }
    if (d.regression()) {
      out.targets.insert(out.targets.end(), d.targets.begin() + static_cast<std::ptrdiff_t>(i * tw),
                         d.targets.begin() + static_cast<std::ptrdiff_t>((i + 1) * tw));
    } else {
      out.labels.push_back(d.labels[i]);
    }
  }
  return out;
}

Status load_one(const std::string& path, const std::string& format, const DataOptions& o, bool train, LocalData* out) {
  if (format == "npz") return load_npz(path, o.task, out);
  if (format == "csv") return load_csv(path, o.task, o.label_column, train ? &out->train : &out->test);
  if (format == "imagefolder") {
    if (o.task == Task::kRegression) return Status::error(path + ": an image folder holds classes; --task regression needs .npz or CSV");
    return load_image_folder(path, o, out);
  }
  if (o.task == Task::kRegression) return Status::error(path + ": " + format + " is a classification data set; --task regression needs .npz or CSV");
  if (format == "cifar10" || format == "fashion-mnist") {
    auto load = format == "cifar10" ? load_cifar10 : load_fashion_mnist;
    if (Status s = load(path, true, &out->train); !s.ok()) return s;
    // The test batch is optional: a party may hold training data only.
    std::string probe = format == "cifar10" ? path + "/test_batch.bin" : path + "/t10k-labels-idx1-ubyte";
    if (std::filesystem::exists(probe) || std::filesystem::exists(probe + ".gz")) return load(path, false, &out->test);
    return {};
  }
  return Status::error(path + ": unknown data format '" + format + "' (known: " + known_data_formats() + ")");
}

}  // namespace

std::optional<Task> parse_task(std::string_view name) {
  if (name == "classification") return Task::kClassification;
  if (name == "regression") return Task::kRegression;
  return std::nullopt;
}

const char* task_name(Task t) { return t == Task::kRegression ? "regression" : "classification"; }

const char* known_data_formats() { return "npz, csv, imagefolder, cifar10, fashion-mnist"; }

std::string detect_data_format(const std::string& path) {
  if (ends_with(path, ".npz")) return "npz";
  if (ends_with(path, ".csv")) return "csv";
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return "";
  if (std::filesystem::exists(path + "/data_batch_1.bin", ec)) return "cifar10";
  if (std::filesystem::exists(path + "/train-images-idx3-ubyte", ec) ||
      std::filesystem::exists(path + "/train-images-idx3-ubyte.gz", ec)) {
    return "fashion-mnist";
  }
  if (std::filesystem::is_directory(path + "/train", ec)) return "imagefolder";
  return "";
}

Status load_csv(const std::string& path, Task task, const std::string& label_column, Dataset* out) {
  std::string text;
  if (Status s = read_maybe_gzip(path, &text); !s.ok()) return s;
  return load_csv_text(text, path, task, label_column, out);
}

Status load_local_data(const std::string& path, const DataOptions& o, LocalData* out) {
  *out = LocalData{};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::error(path + ": no such file or directory");
  std::string format = o.format.empty() ? detect_data_format(path) : o.format;
  if (format.empty()) {
    return Status::error(path + ": cannot tell its format from the name; name it .npz or .csv, or pass --data-format (" +
                         known_data_formats() + ")");
  }
  if (Status s = load_one(path, format, o, true, out); !s.ok()) return s;
  if (!o.test_path.empty() && format == "imagefolder") {
    return Status::error(path + ": an image folder's test split is its test/ folder; --test-data is for .npz and CSV");
  }
  if (!o.test_path.empty()) {
    if (out->test.size() > 0) return Status::error(path + " holds a test split already; --test-data " + o.test_path + " would be a second");
    LocalData t;
    std::string tf = o.format.empty() ? detect_data_format(o.test_path) : o.format;
    if (tf != format) return Status::error(o.test_path + ": test data must be " + format + " like " + path);
    if (Status s = load_one(o.test_path, tf, o, true, &t); !s.ok()) return s;
    out->test = std::move(t.train);
    if (out->test.feature_shape != out->train.feature_shape || out->test.target_width != out->train.target_width ||
        out->test.image_bytes() != out->train.image_bytes()) {
      return Status::error(o.test_path + ": its samples do not have the shape of " + path + "'s");
    }
  }
  if (o.test_fraction > 0) {
    if (out->test.size() > 0) return Status::error(path + ": has a test split already; drop --test-fraction");
    if (Status s = split_off_test(o.test_fraction, o.seed, &out->train, &out->test); !s.ok()) return Status::error(path + ": " + s.message());
  }
  out->test.classes = out->train.classes = std::max(out->train.classes, out->test.classes);
  return {};
}

Status split_off_test(double fraction, std::uint64_t seed, Dataset* train, Dataset* test) {
  if (!(fraction > 0 && fraction < 1)) return Status::error("--test-fraction must be between 0 and 1, got " + std::to_string(fraction));
  std::size_t n = train->size();
  auto take = static_cast<std::size_t>(static_cast<double>(n) * fraction + 0.5);
  if (take == 0 || take >= n) {
    return Status::error(std::to_string(n) + " samples are too few to split off " + std::to_string(fraction) + " as a test set");
  }
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  SeededRng rng(seed ^ 0x7e57f4ac7e57f4acull);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  std::vector<std::uint32_t> test_idx(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take));
  std::vector<std::uint32_t> train_idx(order.begin() + static_cast<std::ptrdiff_t>(take), order.end());
  std::sort(test_idx.begin(), test_idx.end());
  std::sort(train_idx.begin(), train_idx.end());
  *test = select(*train, test_idx);
  *train = select(*train, train_idx);
  return {};
}

}  // namespace fednode::fl
