#pragma once
// The networks the engine trains, behind one interface: the built-in CNNs and any TorchScript
// module a party brings (--model FILE). Included only by the torch_*.cpp files.
#include <torch/script.h>
#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

#include "fednode/fl/dataset.h"
#include "fednode/fl/model_weights.h"

namespace fednode::fl {

// The first line of a libtorch exception's message (the rest is a C++ backtrace).
inline std::string first_line(const std::string& what) { return what.substr(0, what.find('\n')); }

// A model name that names a TorchScript file: "torchscript:" + its path.
inline constexpr const char* kTorchScriptPrefix = "torchscript:";

class Net {
 public:
  virtual ~Net() = default;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual void set_training(bool on) = 0;
  virtual std::vector<torch::Tensor> trainable() = 0;
  // The federated weights by name: parameters, and floating-point buffers (BatchNorm's running
  // statistics). Integer buffers (num_batches_tracked) stay as the module has them.
  virtual std::vector<std::pair<std::string, torch::Tensor>> weights() = 0;
  // Writes the module with its current weights (TorchScript only).
  virtual Status save(const std::string& path);
};

// The built-in model or the TorchScript file `model` names; an error says which and why.
Status make_net(const std::string& model, std::uint64_t seed, std::unique_ptr<Net>* out);

ModelWeights to_weights(Net& net);
Status load_weights(Net& net, const ModelWeights& w);

// Per-channel normalisation of image bytes (the built-in data sets' published statistics).
struct ImageNorm {
  std::array<float, 3> mean{}, std{};
};
ImageNorm image_norm(const Dataset& data);

// Checks that `data`'s images fit the built-in model (an error names both shapes); any data fits
// a TorchScript module as far as this can tell (its first batch tells the rest).
Status check_fit(const std::string& model, const Dataset& data);

}  // namespace fednode::fl
