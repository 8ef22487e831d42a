#pragma once
// Image classification data sets in memory, as raw bytes, loaded from their official formats:
// CIFAR-10's binary batches and Fashion-MNIST's IDX files (gzip'd or not). No libtorch here.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fednode/util/status.h"

namespace fednode::fl {

struct Dataset {
  std::string name;  // "cifar10" or "fashion-mnist"
  int channels = 0, height = 0, width = 0;
  int classes = 10;
  std::vector<std::uint8_t> pixels;  // N x C x H x W, channel planes in order
  std::vector<std::uint8_t> labels;  // N
  std::size_t size() const { return labels.size(); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(channels) * height * width; }
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
