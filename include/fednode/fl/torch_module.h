#pragma once
// The seam between the fednode binary and libtorch. torch_engine.cpp is built as a module of its
// own (libfednode-torch.so) that exports one table of functions; the binary loads it (dlopen) the
// first time a node trains, evaluates, makes or exports a model (torch_loader.cpp), so that
// `fednode --version`, `fednode ctl` and a restarting peer do not wait for libtorch to load.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fednode/fl/trainer.h"

namespace fednode::fl {

inline constexpr int kTorchModuleVersion = 2;  // bumped whenever the table below changes
inline constexpr const char* kTorchModuleFile = "libfednode-torch.so";

struct TorchModule {
  int version = kTorchModuleVersion;
  void (*set_threads)(int threads);
  Status (*initial_weights)(const std::string& model, std::uint64_t seed, ModelWeights* out);
  Status (*train_local)(const std::string& model, const ModelWeights& base, const Dataset& data,
                        const std::vector<std::uint32_t>& indices, const TrainConfig& config,
                        const std::function<void(const TrainProgress&)>& progress, TrainResult* out);
  Status (*evaluate)(const std::string& model, const ModelWeights& weights, const Dataset& data, int batch_size,
                     EvalResult* out);
  Status (*export_state_dict)(const ModelWeights& weights, const std::string& path);
  Status (*export_torchscript)(const std::string& model, const ModelWeights& weights, const std::string& path);
  Status (*check_model)(const std::string& model, const Dataset& data, ModelCheck* out);
};

// Where the binary looks for the module, in order: $FEDNODE_TORCH_MODULE, the binary's own
// directory, ../lib/fednode next to it (the Debian package: /usr/lib/fednode).
std::vector<std::string> torch_module_candidates();
// Loads the module once (thread-safe); an error names every path tried.
Status load_torch_module(const TorchModule** out);
// Whether the module is loaded (for status pages and tests).
bool torch_module_loaded();

}  // namespace fednode::fl

extern "C" const fednode::fl::TorchModule* fednode_torch_module();
