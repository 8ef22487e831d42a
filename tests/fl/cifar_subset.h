#pragma once
// Where the tests find the real CIFAR-10 subset: $FEDNODE_CIFAR10_DIR, else
// ../shared/datasets/cifar10-subset next to the checkout; "" when neither holds it (tests then
// skip, naming where they looked: a fresh clone has no ../shared).
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fednode::fl {

inline std::string cifar_subset_dir() {
  const char* env = std::getenv("FEDNODE_CIFAR10_DIR");
  std::string dir = env ? env : std::string(FEDNODE_SOURCE_DIR) + "/../shared/datasets/cifar10-subset/cifar-10-batches-bin";
  return std::filesystem::exists(dir + "/test_batch.bin") ? dir : "";
}

inline constexpr const char* kNoCifarSubset =
    "CIFAR-10 subset not found in $FEDNODE_CIFAR10_DIR or ../shared/datasets/cifar10-subset";

}  // namespace fednode::fl
