#pragma once
// Models, local training and evaluation. The implementation (torch_engine.cpp) is the only
// place that includes libtorch; everything else sees these plain types. Progress is reported
// through callbacks; nothing in here prints.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fednode/fl/dataset.h"
#include "fednode/fl/model_weights.h"

namespace fednode::fl {

struct TrainConfig {
  std::string optimizer = "sgd";  // sgd (with momentum) | adam
  int epochs = 1;
  int batch_size = 32;
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0.0;
  // FedProx (Li et al. 2020): the local objective gains mu/2 |w - base|^2, which keeps a trainer
  // with skewed data near the global model. 0: plain local SGD. The reported loss stays the
  // task's loss (cross-entropy or MSE), comparable across strategies.
  double proximal_mu = 0.0;
  bool augment = false;  // CIFAR-10: random crop (4-pixel padding) and horizontal flip
  std::uint64_t seed = 1;
  // Called after each epoch with the weights so far (e.g. to evaluate a centralised baseline).
  std::function<void(int epoch, const ModelWeights& weights, double train_loss)> on_epoch;
  // Polled before every batch; when it returns true training ends with kTrainingStopped (a
  // superseded round, or shutdown).
  std::function<bool()> should_stop;
};

inline constexpr const char* kTrainingStopped = "train: stopped";

struct TrainProgress {
  int epoch = 0;  // 1-based
  std::size_t batch = 0, batches = 0;
  double mean_loss = 0;  // over the epoch so far
};

struct TrainResult {
  ModelWeights weights;
  std::uint64_t samples = 0;
  double train_loss = 0;  // mean over the last epoch
  double seconds = 0;
};

struct EvalResult {
  bool regression = false;
  double loss = 0;      // mean cross-entropy, or mean squared error
  double accuracy = 0;  // classification
  std::vector<double> per_class_accuracy;
  double mae = 0;       // regression: mean absolute error
  std::uint64_t samples = 0;
};

// What one batch through the model showed (check_model).
struct ModelCheck {
  std::vector<std::int64_t> input_shape, output_shape;  // of one sample
  std::size_t parameters = 0;                          // federated values
  std::string describe() const;                        // "input [30] -> output [2], 1,234 weights"
};

// Models: "cifar10-cnn" (PyTorch tutorial / Flower quickstart CNN, 62,006 parameters) and
// "fmnist-cnn" (the same layout for 1x28x28 inputs), defined in torch_nets.cpp, or
// "torchscript:PATH", a TorchScript module a party brings (its weights start as saved).
// The model a data set uses by default.
std::string default_model_for(const std::string& dataset_name);

Status initial_weights(const std::string& model, std::uint64_t seed, ModelWeights* out);

Status train_local(const std::string& model, const ModelWeights& base, const Dataset& data,
                   const std::vector<std::uint32_t>& indices, const TrainConfig& config,
                   const std::function<void(const TrainProgress&)>& progress, TrainResult* out);

Status evaluate(const std::string& model, const ModelWeights& weights, const Dataset& data,
                int batch_size, EvalResult* out);

// Writes a state dict that Python loads with torch.load(path) and model.load_state_dict(...).
Status export_state_dict(const ModelWeights& weights, const std::string& path);

// Writes the TorchScript module `model` names with `weights` in it: torch.jit.load(path) runs it.
Status export_torchscript(const std::string& model, const ModelWeights& weights, const std::string& path);

// Runs one batch of `data` through the model before any round: a shape or dtype that does not
// fit, labels beyond the model's outputs or targets of the wrong width give one line naming the
// data set and what was expected.
Status check_model(const std::string& model, const Dataset& data, ModelCheck* out);

// libtorch's intra-op threads (one per node when several nodes share a machine).
void set_torch_threads(int threads);

}  // namespace fednode::fl
