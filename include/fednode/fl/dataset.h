#pragma once
// Data sets in memory: images as raw bytes (CIFAR-10's binary batches, Fashion-MNIST's IDX files,
// gzip'd or not) or any samples as float32 features (a party's own .npz or CSV: own_data.h),
// with class labels or regression targets. No libtorch here.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fednode/util/status.h"

namespace fednode::fl {

struct Dataset {
  std::string name;  // "cifar10", "fashion-mnist", or the file a party's own data came from
  // Images as bytes, normalised per channel when batched (the built-in data sets).
  int channels = 0, height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // N x C x H x W, channel planes in order
  // Per-channel (pixel/255 - mean) / std when batched; empty: the built-in sets' statistics.
  std::vector<float> norm_mean, norm_std;
  // Any other samples, given to the model as they are (as float32): N x feature_shape, held as
  // float32, or as bytes when the file's array is uint8 (a quarter of the memory).
  std::vector<std::int64_t> feature_shape;
  std::vector<float> features;
  std::vector<std::uint8_t> byte_features;
  std::size_t feature_values() const { return byte_features.empty() ? features.size() : byte_features.size(); }
  // Classification: a label in [0, classes) per sample. Regression: target_width targets per
  // sample (labels empty).
  int classes = 10;
  std::vector<std::int32_t> labels;
  int target_width = 0;
  std::vector<float> targets;
  bool regression() const { return target_width > 0; }
  std::size_t size() const {
    return regression() ? targets.size() / static_cast<std::size_t>(target_width) : labels.size();
  }
  bool images() const { return feature_shape.empty(); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(channels) * height * width; }
  std::size_t feature_count() const;  // per sample
  // The first n samples (a test limit); the rest are dropped.
  void truncate(std::size_t n);
  // Per-channel mean and standard deviation of pixel/255 over the set (for normalisation).
  std::vector<float> channel_mean() const;
  std::vector<float> channel_std() const;
};

// Reads `dir`/data_batch_{1..5}.bin (train) or `dir`/test_batch.bin: records of one label byte
// then 3,072 pixel bytes (R, G, B planes of 32x32). Any whole number of records per file.
Status load_cifar10(const std::string& dir, bool train, Dataset* out);

// Reads train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] (or the t10k- pair) from
// `dir`, e.g. /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
Status load_fashion_mnist(const std::string& dir, bool train, Dataset* out);

// Where a data set is read from unless --dataset-dir says otherwise: the CIFAR-10 download's
// data/cifar-10-batches-bin (scripts/get_cifar10.sh), Debian's dataset-fashion-mnist.
std::string default_dataset_dir(const std::string& dataset);

// Reads a whole file, transparently gunzipping names ending in .gz.
Status read_maybe_gzip(const std::string& path, std::string* out);

}  // namespace fednode::fl
