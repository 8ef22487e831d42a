#include "torch_nets.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "fednode/util/file_io.h"

namespace fednode::fl {
namespace {

// conv(C->6, k5) - pool - conv(6->16, k5) - pool - fc(F->120) - fc(120->84) - fc(84->10)
struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl(int channels, int flat)
      : conv1(register_module("conv1", torch::nn::Conv2d(channels, 6, 5))),
        conv2(register_module("conv2", torch::nn::Conv2d(6, 16, 5))),
        fc1(register_module("fc1", torch::nn::Linear(flat, 120))),
        fc2(register_module("fc2", torch::nn::Linear(120, 84))),
        fc3(register_module("fc3", torch::nn::Linear(84, 10))),
        flat_(flat) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
    x = x.view({-1, flat_});
    x = torch::relu(fc1->forward(x));
    x = torch::relu(fc2->forward(x));
    return fc3->forward(x);
  }
  torch::nn::Conv2d conv1, conv2;
  torch::nn::Linear fc1, fc2, fc3;
  int flat_;
};
TORCH_MODULE(SmallCnn);

struct ModelSpec {
  const char* name;
  int channels, height, width, flat;
};

constexpr ModelSpec kModels[] = {
    {"cifar10-cnn", 3, 32, 32, 16 * 5 * 5},
    {"fmnist-cnn", 1, 28, 28, 16 * 4 * 4},
};

const ModelSpec* find_model(const std::string& name) {
  for (const auto& m : kModels) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

class BuiltInNet : public Net {
 public:
  explicit BuiltInNet(const ModelSpec& spec) : net_(spec.channels, spec.flat) {}
  torch::Tensor forward(const torch::Tensor& x) override { return net_->forward(x); }
  void set_training(bool on) override { net_->train(on); }
  std::vector<torch::Tensor> trainable() override { return net_->parameters(); }
  std::vector<std::pair<std::string, torch::Tensor>> weights() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : net_->named_parameters()) out.emplace_back(item.key(), item.value());
    return out;
  }

 private:
  SmallCnn net_;
};

class ScriptNet : public Net {
 public:
  explicit ScriptNet(torch::jit::Module m) : module_(std::move(m)) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    c10::IValue out = module_.forward({x});
    if (out.isTensor()) return out.toTensor();
    if (out.isTuple() && !out.toTupleRef().elements().empty() && out.toTupleRef().elements()[0].isTensor()) {
      return out.toTupleRef().elements()[0].toTensor();  // (output, extras...): the first is the prediction
    }
    throw std::runtime_error("forward() returned " + out.tagKind() + ", not a tensor");
  }
  void set_training(bool on) override { module_.train(on); }
  std::vector<torch::Tensor> trainable() override {
    std::vector<torch::Tensor> out;
    for (const auto& p : module_.parameters()) {
      if (p.requires_grad()) out.push_back(p);
    }
    return out;
  }
  std::vector<std::pair<std::string, torch::Tensor>> weights() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : module_.named_parameters()) out.emplace_back(p.name, p.value);
    for (const auto& b : module_.named_buffers()) {
      if (b.value.is_floating_point()) out.emplace_back(b.name, b.value);
    }
    return out;
  }
  Status save(const std::string& path) override {
    try {
      module_.save(path);
    } catch (const std::exception& e) {
      return Status::error("cannot write " + path + ": " + first_line(e.what()));
    }
    return {};
  }

 private:
  torch::jit::Module module_;
};

}  // namespace

Status Net::save(const std::string&) { return Status::error("only a TorchScript model is exported as TorchScript"); }

Status make_net(const std::string& model, std::uint64_t seed, std::unique_ptr<Net>* out) {
  if (model.rfind(kTorchScriptPrefix, 0) == 0) {
    // "torchscript:PATH" or "torchscript:PATH#SHA256": the bytes read are the bytes loaded, and
    // with a pin they must hash to it.
    std::string path = model.substr(std::string(kTorchScriptPrefix).size()), pin;
    if (auto hash = path.rfind('#'); hash != std::string::npos && path.size() - hash == 65) {
      pin = path.substr(hash + 1);
      path.resize(hash);
    }
    std::string bytes;
    if (Status s = read_file(path, &bytes); !s.ok()) return s;
    if (!pin.empty() && sha256_hex(bytes) != pin) {
      return Status::error(path + " changed since the run pinned it (sha256 now " + sha256_hex(bytes).substr(0, 16) +
                           "..., the run's " + pin.substr(0, 16) + "...)");
    }
    try {
      std::istringstream in(bytes);
      torch::jit::Module m = torch::jit::load(in);
      *out = std::make_unique<ScriptNet>(std::move(m));
      if ((*out)->weights().empty()) return Status::error(path + ": the module has no parameters to train");
    } catch (const std::exception& e) {
      return Status::error(path + ": not a TorchScript module (made with torch.jit.script(model).save(FILE)): " +
                           first_line(e.what()));
    }
    return {};
  }
  const ModelSpec* spec = find_model(model);
  if (!spec) {
    std::string known;
    for (const auto& m : kModels) known += std::string(known.empty() ? "" : ", ") + m.name;
    return Status::error("unknown model '" + model + "' (built in: " + known + "; or a TorchScript file)");
  }
  torch::manual_seed(seed);
  *out = std::make_unique<BuiltInNet>(*spec);
  return {};
}

ModelWeights to_weights(Net& net) {
  ModelWeights w;
  for (auto& [name, tensor] : net.weights()) {
    Parameter p;
    p.name = name;
    torch::Tensor t = tensor.detach().to(torch::kFloat32).contiguous();
    p.shape.assign(t.sizes().begin(), t.sizes().end());
    p.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    w.parameters.push_back(std::move(p));
  }
  std::sort(w.parameters.begin(), w.parameters.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return w;
}

Status load_weights(Net& net, const ModelWeights& w) {
  ModelWeights layout = to_weights(net);
  if (Status s = same_layout(layout, w); !s.ok()) return s;
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> by_name;
  for (auto& [name, tensor] : net.weights()) by_name.emplace(name, tensor);
  for (const auto& p : w.parameters) {
    torch::Tensor src = torch::from_blob(const_cast<float*>(p.values.data()), p.shape, torch::kFloat32);
    by_name.at(p.name).copy_(src);
  }
  return {};
}

ImageNorm image_norm(const Dataset& data) {
  if (!data.norm_mean.empty()) {
    ImageNorm n{{0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}};
    for (std::size_t c = 0; c < std::min<std::size_t>(3, data.norm_mean.size()); ++c) {
      n.mean[c] = data.norm_mean[c];
      n.std[c] = data.norm_std.at(c);
    }
    return n;
  }
  if (data.channels == 3) return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};  // CIFAR-10
  return {{0.2860f, 0.f, 0.f}, {0.3530f, 1.f, 1.f}};                                         // Fashion-MNIST
}

Status check_fit(const std::string& model, const Dataset& data) {
  const ModelSpec* spec = find_model(model);
  if (!spec) return {};
  if (!data.images() || data.regression() || data.channels != spec->channels || data.height != spec->height ||
      data.width != spec->width) {
    std::string has = data.images() ? std::to_string(data.channels) + "x" + std::to_string(data.height) + "x" +
                                          std::to_string(data.width) + " images"
                                    : "samples of " + std::to_string(data.feature_count()) + " features";
    return Status::error(std::string("model ") + spec->name + " classifies " + std::to_string(spec->channels) + "x" +
                         std::to_string(spec->height) + "x" + std::to_string(spec->width) + " images into 10 classes; " +
                         data.name + " has " + has + (data.regression() ? " with regression targets" : "") +
                         " (bring a TorchScript model with --model FILE)");
  }
  return {};
}

}  // namespace fednode::fl
