#pragma once
// `fednode train-local`: trains one model centrally on this machine (no group, no Raft) and
// prints test accuracy per epoch; the baseline the federated runs are compared with.
#include <cstdint>
#include <string>

namespace fednode {

// `fednode train-local`: the centralised baseline the federated runs are compared with.
struct TrainLocalOptions {
  std::string dataset = "cifar10";  // cifar10 | fashion-mnist
  std::string dataset_dir;          // default: data/cifar-10-batches-bin or Debian's fashion-mnist
  std::string model;                // default: the data set's model
  int epochs = 5;
  int batch_size = 32;
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool augment = false;
  int threads = 1;
  std::uint64_t seed = 1;
  std::string save;  // optional: export the final model as a PyTorch state dict
};

int run_train_local(const TrainLocalOptions& options);

}  // namespace fednode
