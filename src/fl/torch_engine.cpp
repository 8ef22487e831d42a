// The libtorch side of the FL engine: model definitions, conversion between torch modules and
// ModelWeights, local SGD training, evaluation and state-dict export.
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <numeric>

#include "fednode/util/seeded_rng.h"
#include "fednode/fl/torch_module.h"

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
  std::array<float, 3> mean, std;  // published per-channel statistics of the data set
};

constexpr ModelSpec kModels[] = {
    {"cifar10-cnn", 3, 32, 32, 16 * 5 * 5, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}},
    {"fmnist-cnn", 1, 28, 28, 16 * 4 * 4, {0.2860f, 0.f, 0.f}, {0.3530f, 1.f, 1.f}},
};

const ModelSpec* find_model(const std::string& name) {
  for (const auto& m : kModels) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

Status unknown_model(const std::string& name) {
  std::string known;
  for (const auto& m : kModels) known += std::string(known.empty() ? "" : ", ") + m.name;
  return Status::error("unknown model '" + name + "' (known: " + known + ")");
}

ModelWeights to_weights(SmallCnn& net) {
  ModelWeights w;
  for (const auto& item : net->named_parameters()) {
    Parameter p;
    p.name = item.key();
    torch::Tensor t = item.value().detach().to(torch::kFloat32).contiguous();
    p.shape.assign(t.sizes().begin(), t.sizes().end());
    p.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    w.parameters.push_back(std::move(p));
  }
  std::sort(w.parameters.begin(), w.parameters.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return w;
}

Status load_weights(SmallCnn& net, const ModelWeights& w) {
  ModelWeights layout = to_weights(net);
  if (Status s = same_layout(layout, w); !s.ok()) return s;
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  for (const auto& p : w.parameters) {
    torch::Tensor src = torch::from_blob(const_cast<float*>(p.values.data()), p.shape, torch::kFloat32);
    params[p.name].copy_(src);
  }
  return {};
}

Status check_data(const ModelSpec& spec, const Dataset& data) {
  if (data.channels != spec.channels || data.height != spec.height || data.width != spec.width) {
    return Status::error(std::string("model ") + spec.name + " expects " + std::to_string(spec.channels) + "x" +
                         std::to_string(spec.height) + "x" + std::to_string(spec.width) + " images, data set " +
                         data.name + " has " + std::to_string(data.channels) + "x" + std::to_string(data.height) +
                         "x" + std::to_string(data.width));
  }
  return {};
}

// A normalised batch; with `augment`, each image is shifted by up to 4 pixels (zero padding)
// and flipped horizontally with probability 1/2.
std::pair<torch::Tensor, torch::Tensor> make_batch(const ModelSpec& spec, const Dataset& data,
                                                   const std::uint32_t* idx, std::size_t n, bool augment,
                                                   SeededRng& rng) {
  const int C = spec.channels, H = spec.height, W = spec.width;
  torch::Tensor x = torch::empty({static_cast<long>(n), C, H, W}, torch::kFloat32);
  torch::Tensor y = torch::empty({static_cast<long>(n)}, torch::kLong);
  float* xp = x.data_ptr<float>();
  std::int64_t* yp = y.data_ptr<std::int64_t>();
  // Normalisation through a per-channel table of the 256 possible pixel values.
  std::array<std::array<float, 256>, 3> lut{};
  for (int c = 0; c < C; ++c) {
    for (int v = 0; v < 256; ++v) {
      lut[static_cast<std::size_t>(c)][static_cast<std::size_t>(v)] =
          (v / 255.0f - spec.mean[static_cast<std::size_t>(c)]) / spec.std[static_cast<std::size_t>(c)];
    }
  }
  for (std::size_t b = 0; b < n; ++b) {
    const std::uint8_t* img = &data.pixels[static_cast<std::size_t>(idx[b]) * data.image_bytes()];
    float* dst = xp + b * static_cast<std::size_t>(C * H * W);
    yp[b] = data.labels[idx[b]];
    if (!augment) {
      for (int c = 0; c < C; ++c) {
        const auto& table = lut[static_cast<std::size_t>(c)];
        for (int k = 0; k < H * W; ++k) dst[c * H * W + k] = table[img[c * H * W + k]];
      }
      continue;
    }
    std::uint64_t r = rng.next();
    int dx = static_cast<int>(r % 9) - 4, dy = static_cast<int>((r >> 8) % 9) - 4;
    bool flip = (r >> 16) & 1;
    for (int c = 0; c < C; ++c) {
      const auto& table = lut[static_cast<std::size_t>(c)];
      const float zero = table[0];  // padding is a black pixel
      for (int i = 0; i < H; ++i) {
        for (int j = 0; j < W; ++j) {
          int si = i + dy, sj = (flip ? W - 1 - j : j) + dx;
          dst[(c * H + i) * W + j] = (si >= 0 && si < H && sj >= 0 && sj < W) ? table[img[(c * H + si) * W + sj]] : zero;
        }
      }
    }
  }
  return {x, y};
}

}  // namespace

// The module's functions: reached only through fednode_torch_module() below.
namespace engine {

void set_threads(int threads) {
  torch::set_num_threads(std::max(1, threads));
}

Status initial_weights(const std::string& model, std::uint64_t seed, ModelWeights* out) {
  const ModelSpec* spec = find_model(model);
  if (!spec) return unknown_model(model);
  torch::manual_seed(seed);
  SmallCnn net(spec->channels, spec->flat);
  *out = to_weights(net);
  return {};
}

Status train_local(const std::string& model, const ModelWeights& base, const Dataset& data,
                   const std::vector<std::uint32_t>& indices, const TrainConfig& config,
                   const std::function<void(const TrainProgress&)>& progress, TrainResult* out) {
  const ModelSpec* spec = find_model(model);
  if (!spec) return unknown_model(model);
  if (Status s = check_data(*spec, data); !s.ok()) return s;
  if (indices.empty()) return Status::error("train: empty shard");
  if (config.epochs < 1 || config.batch_size < 1 || !(config.lr > 0)) {
    return Status::error("train: epochs, batch size and lr must be positive");
  }
  for (auto i : indices) {
    if (i >= data.size()) return Status::error("train: sample index " + std::to_string(i) + " beyond the data set");
  }
  auto t0 = std::chrono::steady_clock::now();
  SmallCnn net(spec->channels, spec->flat);
  if (Status s = load_weights(net, base); !s.ok()) return Status::error("train: base model: " + s.message());
  net->train();
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(config.lr)
                                                .momentum(config.momentum)
                                                .weight_decay(config.weight_decay));
  if (!(config.proximal_mu >= 0)) return Status::error("train: proximal mu must not be negative");
  std::vector<torch::Tensor> params = net->parameters(), anchor;
  if (config.proximal_mu > 0) {
    for (const auto& p : params) anchor.push_back(p.detach().clone());
  }
  SeededRng rng(config.seed * 0x2545F4914F6CDD1Dull + 1);
  std::vector<std::uint32_t> order = indices;
  double epoch_loss = 0;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
    std::size_t batches = (order.size() + config.batch_size - 1) / config.batch_size;
    double sum = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      if (config.should_stop && config.should_stop()) return Status::error(std::string(kTrainingStopped));
      std::size_t start = b * config.batch_size, n = std::min<std::size_t>(config.batch_size, order.size() - start);
      auto [x, y] = make_batch(*spec, data, &order[start], n, config.augment, rng);
      opt.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      loss.backward();
      if (!anchor.empty()) {  // the gradient of mu/2 |w - base|^2, added without building its graph
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad().add_(params[i] - anchor[i], config.proximal_mu);
      }
      opt.step();
      sum += loss.item<double>() * static_cast<double>(n);
      if (progress) progress({epoch, b + 1, batches, sum / static_cast<double>(start + n)});
    }
    epoch_loss = sum / static_cast<double>(order.size());
    if (config.on_epoch) config.on_epoch(epoch, to_weights(net), epoch_loss);
  }
  out->weights = to_weights(net);
  out->samples = order.size();
  out->train_loss = epoch_loss;
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {};
}

Status evaluate(const std::string& model, const ModelWeights& weights, const Dataset& data, int batch_size,
                EvalResult* out) {
  const ModelSpec* spec = find_model(model);
  if (!spec) return unknown_model(model);
  if (Status s = check_data(*spec, data); !s.ok()) return s;
  if (data.size() == 0) return Status::error("evaluate: empty data set");
  SmallCnn net(spec->channels, spec->flat);
  if (Status s = load_weights(net, weights); !s.ok()) return Status::error("evaluate: " + s.message());
  net->eval();
  torch::NoGradGuard no_grad;
  std::vector<std::uint32_t> all(data.size());
  std::iota(all.begin(), all.end(), 0u);
  std::vector<std::uint64_t> correct(10, 0), seen(10, 0);
  double loss_sum = 0;
  SeededRng rng(0);
  for (std::size_t start = 0; start < all.size(); start += static_cast<std::size_t>(batch_size)) {
    std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(batch_size), all.size() - start);
    auto [x, y] = make_batch(*spec, data, &all[start], n, false, rng);
    torch::Tensor logits = net->forward(x);
    loss_sum += torch::nn::functional::cross_entropy(logits, y,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    torch::Tensor pred = logits.argmax(1);
    auto pp = pred.data_ptr<std::int64_t>();
    auto yp = y.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < n; ++i) {
      seen[static_cast<std::size_t>(yp[i])]++;
      correct[static_cast<std::size_t>(yp[i])] += pp[i] == yp[i];
    }
  }
  out->samples = data.size();
  out->loss = loss_sum / static_cast<double>(data.size());
  out->accuracy = static_cast<double>(std::accumulate(correct.begin(), correct.end(), 0ull)) / static_cast<double>(data.size());
  out->per_class_accuracy.clear();
  for (int c = 0; c < 10; ++c) out->per_class_accuracy.push_back(seen[c] ? static_cast<double>(correct[c]) / seen[c] : 0.0);
  return {};
}

Status export_state_dict(const ModelWeights& weights, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& p : weights.parameters) {
    dict.insert(p.name, torch::from_blob(const_cast<float*>(p.values.data()), p.shape, torch::kFloat32).clone());
  }
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Status::error("cannot write " + path);
  return {};
}

}  // namespace engine
}  // namespace fednode::fl

extern "C" __attribute__((visibility("default"))) const fednode::fl::TorchModule* fednode_torch_module() {
  using namespace fednode::fl;
  static const TorchModule table{kTorchModuleVersion, &engine::set_threads, &engine::initial_weights,
                                 &engine::train_local, &engine::evaluate, &engine::export_state_dict};
  return &table;
}
