#include "fednode/fl/dataset.h"

#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fednode::fl {
namespace {

constexpr std::size_t kCifarRecord = 1 + 3 * 32 * 32;

std::uint32_t big_endian_u32(const std::string& b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

Status append_cifar_file(const std::string& path, Dataset* out) {
  std::string bytes;
  if (Status s = read_maybe_gzip(path, &bytes); !s.ok()) return s;
  if (bytes.empty() || bytes.size() % kCifarRecord != 0) {
    return Status::error(path + ": size " + std::to_string(bytes.size()) +
                         " is not a whole number of 3,073-byte CIFAR-10 records");
  }
  for (std::size_t off = 0; off < bytes.size(); off += kCifarRecord) {
    auto label = static_cast<std::uint8_t>(bytes[off]);
    if (label > 9) {
      return Status::error(path + ": label " + std::to_string(label) + " out of range 0-9 in record " +
                           std::to_string(off / kCifarRecord) + " (offset " + std::to_string(off) + ")");
    }
    out->labels.push_back(label);
    out->pixels.insert(out->pixels.end(), bytes.begin() + static_cast<std::ptrdiff_t>(off + 1),
                       bytes.begin() + static_cast<std::ptrdiff_t>(off + kCifarRecord));
  }
  return {};
}

// The IDX file in `dir` named `base`, gzip'd or not.
std::string idx_path(const std::string& dir, const std::string& base) {
  std::string plain = dir + "/" + base;
  if (std::filesystem::exists(plain)) return plain;
  return plain + ".gz";
}

}  // namespace

Status read_maybe_gzip(const std::string& path, std::string* out) {
  out->clear();
  if (!std::filesystem::exists(path)) return Status::error(path + ": no such file");
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) return Status::error(path + ": cannot open");
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out->append(buf, static_cast<std::size_t>(n));
    int err = 0;
    const char* msg = gzerror(f, &err);
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) return Status::error(path + ": corrupt gzip data: " + msg);
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return {};
}

Status load_cifar10(const std::string& dir, bool train, Dataset* out) {
  *out = Dataset{};
  out->name = "cifar10";
  out->channels = 3;
  out->height = out->width = 32;
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  for (const auto& f : files) {
    if (Status s = append_cifar_file(f, out); !s.ok()) return s;
  }
  return {};
}

Status load_fashion_mnist(const std::string& dir, bool train, Dataset* out) {
  *out = Dataset{};
  out->name = "fashion-mnist";
  out->channels = 1;
  std::string prefix = train ? "train" : "t10k";
  std::string images_path = idx_path(dir, prefix + "-images-idx3-ubyte");
  std::string labels_path = idx_path(dir, prefix + "-labels-idx1-ubyte");
  std::string images, labels;
  if (Status s = read_maybe_gzip(images_path, &images); !s.ok()) return s;
  if (Status s = read_maybe_gzip(labels_path, &labels); !s.ok()) return s;
  if (images.size() < 16 || big_endian_u32(images, 0) != 0x00000803) {
    return Status::error(images_path + ": bad magic (expected an IDX3 unsigned-byte file, 0x00000803)");
  }
  if (labels.size() < 8 || big_endian_u32(labels, 0) != 0x00000801) {
    return Status::error(labels_path + ": bad magic (expected an IDX1 unsigned-byte file, 0x00000801)");
  }
  std::uint32_t n = big_endian_u32(images, 4), rows = big_endian_u32(images, 8), cols = big_endian_u32(images, 12);
  if (rows == 0 || cols == 0 || rows > 1024 || cols > 1024) {
    return Status::error(images_path + ": implausible image size " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (images.size() != 16 + static_cast<std::size_t>(n) * rows * cols) {
    return Status::error(images_path + ": size " + std::to_string(images.size()) + " does not match " +
                         std::to_string(n) + " images of " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  std::uint32_t ln = big_endian_u32(labels, 4);
  if (ln != n || labels.size() != 8 + static_cast<std::size_t>(ln)) {
    return Status::error(labels_path + ": holds " + std::to_string(ln) + " labels (" +
                         std::to_string(labels.size()) + " bytes) for " + std::to_string(n) + " images");
  }
  out->height = static_cast<int>(rows);
  out->width = static_cast<int>(cols);
  out->pixels.assign(images.begin() + 16, images.end());
  out->labels.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto label = static_cast<std::uint8_t>(labels[8 + i]);
    if (label > 9) {
      return Status::error(labels_path + ": label " + std::to_string(label) + " out of range 0-9 at offset " +
                           std::to_string(8 + i));
    }
    out->labels.push_back(label);
  }
  return {};
}

std::size_t Dataset::feature_count() const {
  std::size_t n = 1;
  for (auto d : feature_shape) n *= static_cast<std::size_t>(d);
  return n;
}

void Dataset::truncate(std::size_t n) {
  if (n >= size()) return;
  if (images()) {
    pixels.resize(n * image_bytes());
  } else if (!byte_features.empty()) {
    byte_features.resize(n * feature_count());
  } else {
    features.resize(n * feature_count());
  }
  if (regression()) {
    targets.resize(n * static_cast<std::size_t>(target_width));
  } else {
    labels.resize(n);
  }
}

std::vector<float> Dataset::channel_mean() const {
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0);
  std::size_t plane = static_cast<std::size_t>(height) * width;
  for (std::size_t i = 0; i < size(); ++i) {
    for (int c = 0; c < channels; ++c) {
      const std::uint8_t* p = &pixels[i * image_bytes() + static_cast<std::size_t>(c) * plane];
      for (std::size_t k = 0; k < plane; ++k) sum[static_cast<std::size_t>(c)] += p[k];
    }
  }
  std::vector<float> mean;
  for (double s : sum) mean.push_back(static_cast<float>(s / 255.0 / static_cast<double>(size() * plane)));
  return mean;
}

std::vector<float> Dataset::channel_std() const {
  auto mean = channel_mean();
  std::vector<double> sq(static_cast<std::size_t>(channels), 0.0);
  std::size_t plane = static_cast<std::size_t>(height) * width;
  for (std::size_t i = 0; i < size(); ++i) {
    for (int c = 0; c < channels; ++c) {
      const std::uint8_t* p = &pixels[i * image_bytes() + static_cast<std::size_t>(c) * plane];
      for (std::size_t k = 0; k < plane; ++k) {
        double d = p[k] / 255.0 - mean[static_cast<std::size_t>(c)];
        sq[static_cast<std::size_t>(c)] += d * d;
      }
    }
  }
  std::vector<float> out;
  for (double s : sq) out.push_back(static_cast<float>(std::sqrt(s / static_cast<double>(size() * plane))));
  return out;
}

std::string default_dataset_dir(const std::string& dataset) {
  return dataset == "cifar10" ? "data/cifar-10-batches-bin" : "/usr/share/datasets/fashion-mnist";
}

}  // namespace fednode::fl
