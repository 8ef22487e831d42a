// The binary's side of the libtorch module (torch_module.h): finds it, loads it once, and
// implements trainer.h by calling into it.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "fednode/fl/torch_module.h"

namespace fednode::fl {
namespace {

std::mutex mu;
const TorchModule* loaded = nullptr;
int threads = 1;

std::string own_directory() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

}  // namespace

std::vector<std::string> torch_module_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("FEDNODE_TORCH_MODULE"); env && *env) out.emplace_back(env);
  std::string dir = own_directory();
  if (!dir.empty()) {
    out.push_back(dir + "/" + kTorchModuleFile);
    out.push_back((std::filesystem::path(dir).parent_path() / "lib" / "fednode" / kTorchModuleFile).string());
  }
  return out;
}

Status load_torch_module(const TorchModule** out) {
  std::lock_guard<std::mutex> lock(mu);
  if (!loaded) {
    std::string tried;
    for (const auto& path : torch_module_candidates()) {
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* why = ::dlerror();
        tried += (tried.empty() ? "" : "; ") + std::string(why ? why : path);
        continue;
      }
      using Entry = const TorchModule* (*)();
      auto entry = reinterpret_cast<Entry>(::dlsym(handle, "fednode_torch_module"));
      const TorchModule* m = entry ? entry() : nullptr;
      if (!m || m->version != kTorchModuleVersion) {
        tried += (tried.empty() ? "" : "; ") + path + ": not a fednode libtorch module of this version";
        ::dlclose(handle);
        continue;
      }
      m->set_threads(threads);
      loaded = m;  // stays loaded for the life of the process
      break;
    }
    if (!loaded) {
      return Status::error("cannot load the libtorch module " + std::string(kTorchModuleFile) + " (" + tried +
                           "); set FEDNODE_TORCH_MODULE to its path");
    }
  }
  *out = loaded;
  return {};
}

bool torch_module_loaded() {
  std::lock_guard<std::mutex> lock(mu);
  return loaded != nullptr;
}

std::string default_model_for(const std::string& dataset_name) {
  return dataset_name == "fashion-mnist" ? "fmnist-cnn" : "cifar10-cnn";
}

void set_torch_threads(int n) {
  std::lock_guard<std::mutex> lock(mu);
  threads = n;
  if (loaded) loaded->set_threads(n);
}

Status initial_weights(const std::string& model, std::uint64_t seed, ModelWeights* out) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->initial_weights(model, seed, out);
}

Status train_local(const std::string& model, const ModelWeights& base, const Dataset& data,
                   const std::vector<std::uint32_t>& indices, const TrainConfig& config,
                   const std::function<void(const TrainProgress&)>& progress, TrainResult* out) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->train_local(model, base, data, indices, config, progress, out);
}

Status evaluate(const std::string& model, const ModelWeights& weights, const Dataset& data, int batch_size,
                EvalResult* out) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->evaluate(model, weights, data, batch_size, out);
}

Status export_state_dict(const ModelWeights& weights, const std::string& path) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->export_state_dict(weights, path);
}

Status export_torchscript(const std::string& model, const ModelWeights& weights, const std::string& path) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->export_torchscript(model, weights, path);
}

Status check_model(const std::string& model, const Dataset& data, ModelCheck* out) {
  const TorchModule* m = nullptr;
  if (Status s = load_torch_module(&m); !s.ok()) return s;
  return m->check_model(model, data, out);
}

std::string ModelCheck::describe() const {
  auto dims = [](const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  };
  return "input " + dims(input_shape) + " -> output " + dims(output_shape) + ", " + std::to_string(parameters) +
         " federated values";
}

}  // namespace fednode::fl
