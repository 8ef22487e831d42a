// The libtorch side of the FL engine: batches, local training, evaluation, the first-batch check
// and export. The networks themselves are in torch_nets.cpp.
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "fednode/fl/torch_module.h"
#include "fednode/util/seeded_rng.h"
#include "torch_nets.h"

namespace fednode::fl {
namespace {

std::vector<std::int64_t> sample_shape(const Dataset& d) {
  if (d.images()) return {d.channels, d.height, d.width};
  return d.feature_shape;
}

std::string dims(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Images: normalised per channel; with `augment`, shifted by up to 4 pixels (zero padding) and
// flipped horizontally with probability 1/2.
torch::Tensor image_batch(const Dataset& data, const std::uint32_t* idx, std::size_t n, bool augment, SeededRng& rng) {
  const int C = data.channels, H = data.height, W = data.width;
  torch::Tensor x = torch::empty({static_cast<long>(n), C, H, W}, torch::kFloat32);
  float* xp = x.data_ptr<float>();
  ImageNorm norm = image_norm(data);
  std::array<std::array<float, 256>, 3> lut{};  // the 256 possible pixel values, normalised
  for (int c = 0; c < std::min(C, 3); ++c) {
    for (int v = 0; v < 256; ++v) {
      lut[static_cast<std::size_t>(c)][static_cast<std::size_t>(v)] =
          (v / 255.0f - norm.mean[static_cast<std::size_t>(c)]) / norm.std[static_cast<std::size_t>(c)];
    }
  }
  for (std::size_t b = 0; b < n; ++b) {
    const std::uint8_t* img = &data.pixels[static_cast<std::size_t>(idx[b]) * data.image_bytes()];
    float* dst = xp + b * static_cast<std::size_t>(C * H * W);
    if (!augment) {
      for (int c = 0; c < C; ++c) {
        const auto& table = lut[static_cast<std::size_t>(std::min(c, 2))];
        for (int k = 0; k < H * W; ++k) dst[c * H * W + k] = table[img[c * H * W + k]];
      }
      continue;
    }
    std::uint64_t r = rng.next();
    int dx = static_cast<int>(r % 9) - 4, dy = static_cast<int>((r >> 8) % 9) - 4;
    bool flip = (r >> 16) & 1;
    for (int c = 0; c < C; ++c) {
      const auto& table = lut[static_cast<std::size_t>(std::min(c, 2))];
      const float zero = table[0];  // padding is a black pixel
      for (int i = 0; i < H; ++i) {
        for (int j = 0; j < W; ++j) {
          int si = i + dy, sj = (flip ? W - 1 - j : j) + dx;
          dst[(c * H + i) * W + j] = (si >= 0 && si < H && sj >= 0 && sj < W) ? table[img[(c * H + si) * W + sj]] : zero;
        }
      }
    }
  }
  return x;
}

// One batch: inputs, and class numbers (long) or targets (float, n x target width).
std::pair<torch::Tensor, torch::Tensor> make_batch(const Dataset& data, const std::uint32_t* idx, std::size_t n,
                                                   bool augment, SeededRng& rng) {
  torch::Tensor x;
  if (data.images()) {
    x = image_batch(data, idx, n, augment, rng);
  } else {
    std::vector<std::int64_t> shape = data.feature_shape;
    shape.insert(shape.begin(), static_cast<std::int64_t>(n));
    x = torch::empty(shape, torch::kFloat32);
    std::size_t per = data.feature_count();
    float* xp = x.data_ptr<float>();
    if (!data.byte_features.empty()) {
      for (std::size_t b = 0; b < n; ++b) {
        const std::uint8_t* src = &data.byte_features[idx[b] * per];
        for (std::size_t k = 0; k < per; ++k) xp[b * per + k] = src[k];
      }
    } else {
      for (std::size_t b = 0; b < n; ++b) std::memcpy(xp + b * per, &data.features[idx[b] * per], per * sizeof(float));
    }
  }
  torch::Tensor y;
  if (data.regression()) {
    auto tw = static_cast<std::size_t>(data.target_width);
    y = torch::empty({static_cast<long>(n), static_cast<long>(tw)}, torch::kFloat32);
    float* yp = y.data_ptr<float>();
    for (std::size_t b = 0; b < n; ++b) std::memcpy(yp + b * tw, &data.targets[idx[b] * tw], tw * sizeof(float));
  } else {
    y = torch::empty({static_cast<long>(n)}, torch::kLong);
    std::int64_t* yp = y.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < n; ++b) yp[b] = data.labels[idx[b]];
  }
  return {x, y};
}

// The task's loss, summed or averaged: cross-entropy over class scores, or squared error over
// targets (the output reshaped to n x target width).
torch::Tensor task_loss(const Dataset& data, const torch::Tensor& out, const torch::Tensor& y, bool sum) {
  if (data.regression()) {
    auto o = out.reshape({y.size(0), y.size(1)});
    return torch::mse_loss(o, y, sum ? at::Reduction::Sum : at::Reduction::Mean);
  }
  namespace F = torch::nn::functional;
  return sum ? F::cross_entropy(out, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)) : F::cross_entropy(out, y);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<torch::Tensor> params) {
  if (c.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(std::move(params), torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(
      std::move(params), torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
}

Status net_with(const std::string& model, const ModelWeights& weights, const Dataset& data, std::unique_ptr<Net>* net) {
  if (Status s = check_fit(model, data); !s.ok()) return s;
  if (Status s = make_net(model, 0, net); !s.ok()) return s;
  if (Status s = load_weights(**net, weights); !s.ok()) return Status::error("the model's weights: " + s.message());
  return {};
}

}  // namespace

// The module's functions: reached only through fednode_torch_module() below.
namespace engine {

void set_threads(int threads) { torch::set_num_threads(std::max(1, threads)); }

Status initial_weights(const std::string& model, std::uint64_t seed, ModelWeights* out) {
  std::unique_ptr<Net> net;
  if (Status s = make_net(model, seed, &net); !s.ok()) return s;
  *out = to_weights(*net);
  return {};
}

Status train_local(const std::string& model, const ModelWeights& base, const Dataset& data,
                   const std::vector<std::uint32_t>& indices, const TrainConfig& config,
                   const std::function<void(const TrainProgress&)>& progress, TrainResult* out) {
  if (indices.empty()) return Status::error("train: no samples to train on");
  if (config.epochs < 1 || config.batch_size < 1 || !(config.lr > 0)) {
    return Status::error("train: epochs, batch size and lr must be positive");
  }
  if (config.optimizer != "sgd" && config.optimizer != "adam") return Status::error("train: unknown optimizer '" + config.optimizer + "'");
  if (!(config.proximal_mu >= 0)) return Status::error("train: proximal mu must not be negative");
  for (auto i : indices) {
    if (i >= data.size()) return Status::error("train: sample index " + std::to_string(i) + " beyond the data set");
  }
  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Net> net;
  if (Status s = net_with(model, base, data, &net); !s.ok()) return Status::error("train: " + s.message());
  net->set_training(true);
  std::vector<torch::Tensor> params = net->trainable(), anchor;
  auto opt = make_optimizer(config, params);
  if (config.proximal_mu > 0) {
    for (const auto& p : params) anchor.push_back(p.detach().clone());
  }
  SeededRng rng(config.seed * 0x2545F4914F6CDD1Dull + 1);
  std::vector<std::uint32_t> order = indices;
  double epoch_loss = 0;
  try {
    for (int epoch = 1; epoch <= config.epochs; ++epoch) {
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
      std::size_t batches = (order.size() + config.batch_size - 1) / config.batch_size;
      double sum = 0;
      for (std::size_t b = 0; b < batches; ++b) {
        if (config.should_stop && config.should_stop()) return Status::error(std::string(kTrainingStopped));
        std::size_t start = b * config.batch_size, n = std::min<std::size_t>(config.batch_size, order.size() - start);
        // BatchNorm cannot train on a batch of one; the last sample waits for the next epoch's shuffle.
        if (n == 1 && batches > 1) continue;
        auto [x, y] = make_batch(data, &order[start], n, config.augment, rng);
        opt->zero_grad();
        torch::Tensor loss = task_loss(data, net->forward(x), y, false);
        loss.backward();
        if (!anchor.empty()) {  // the gradient of mu/2 |w - base|^2, added without building its graph
          torch::NoGradGuard no_grad;
          for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad().add_(params[i] - anchor[i], config.proximal_mu);
        }
        opt->step();
        sum += loss.item<double>() * static_cast<double>(n);
        if (progress) progress({epoch, b + 1, batches, sum / static_cast<double>(start + n)});
      }
      epoch_loss = sum / static_cast<double>(order.size());
      if (!std::isfinite(epoch_loss)) {
        return Status::error("train: the loss became " + std::to_string(epoch_loss) + " in epoch " + std::to_string(epoch) +
                             " (lower --lr?)");
      }
      if (config.on_epoch) config.on_epoch(epoch, to_weights(*net), epoch_loss);
    }
  } catch (const std::exception& e) {
    return Status::error("train: " + first_line(e.what()));
  }
  out->weights = to_weights(*net);
  out->samples = order.size();
  out->train_loss = epoch_loss;
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {};
}

Status evaluate(const std::string& model, const ModelWeights& weights, const Dataset& data, int batch_size,
                EvalResult* out) {
  if (data.size() == 0) return Status::error("evaluate: empty data set");
  std::unique_ptr<Net> net;
  if (Status s = net_with(model, weights, data, &net); !s.ok()) return Status::error("evaluate: " + s.message());
  net->set_training(false);
  torch::NoGradGuard no_grad;
  std::vector<std::uint32_t> all(data.size());
  std::iota(all.begin(), all.end(), 0u);
  std::vector<std::uint64_t> correct, seen;
  double loss_sum = 0, abs_sum = 0;
  SeededRng rng(0);
  try {
    for (std::size_t start = 0; start < all.size(); start += static_cast<std::size_t>(batch_size)) {
      std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(batch_size), all.size() - start);
      auto [x, y] = make_batch(data, &all[start], n, false, rng);
      torch::Tensor pred = net->forward(x);
      loss_sum += task_loss(data, pred, y, true).item<double>();
      if (data.regression()) {
        abs_sum += (pred.reshape({y.size(0), y.size(1)}) - y).abs().sum().item<double>();
        continue;
      }
      auto classes = static_cast<std::size_t>(pred.size(1));
      correct.resize(classes, 0);
      seen.resize(classes, 0);
      torch::Tensor best = pred.argmax(1);
      auto pp = best.data_ptr<std::int64_t>();
      auto yp = y.data_ptr<std::int64_t>();
      for (std::size_t i = 0; i < n; ++i) {
        seen[static_cast<std::size_t>(yp[i])]++;
        correct[static_cast<std::size_t>(yp[i])] += pp[i] == yp[i];
      }
    }
  } catch (const std::exception& e) {
    return Status::error("evaluate: " + first_line(e.what()));
  }
  *out = EvalResult{};
  out->samples = data.size();
  out->regression = data.regression();
  if (data.regression()) {
    double values = static_cast<double>(data.targets.size());
    out->loss = loss_sum / values;
    out->mae = abs_sum / values;
    return {};
  }
  out->loss = loss_sum / static_cast<double>(data.size());
  out->accuracy = static_cast<double>(std::accumulate(correct.begin(), correct.end(), 0ull)) / static_cast<double>(data.size());
  for (std::size_t c = 0; c < seen.size(); ++c) {
    out->per_class_accuracy.push_back(seen[c] ? static_cast<double>(correct[c]) / static_cast<double>(seen[c]) : 0.0);
  }
  return {};
}

Status check_model(const std::string& model, const Dataset& data, ModelCheck* out) {
  if (data.size() == 0) return Status::error(data.name + ": holds no samples");
  if (Status s = check_fit(model, data); !s.ok()) return s;
  std::unique_ptr<Net> net;
  if (Status s = make_net(model, 0, &net); !s.ok()) return s;
  ModelWeights w = to_weights(*net);
  out->parameters = w.parameter_count();
  out->input_shape = sample_shape(data);
  std::size_t n = std::min<std::size_t>(8, data.size());
  std::vector<std::uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  SeededRng rng(0);
  auto [x, y] = make_batch(data, idx.data(), n, false, rng);
  torch::Tensor pred;
  std::string input = "a batch of " + std::to_string(n) + " samples of shape " + dims(out->input_shape) + " float32";
  try {
    net->set_training(false);
    torch::NoGradGuard no_grad;
    pred = net->forward(x);
  } catch (const std::exception& e) {
    return Status::error("the model does not take " + data.name + "'s samples: forward of " + input + " failed: " +
                         first_line(e.what()));
  }
  out->output_shape.assign(pred.sizes().begin() + (pred.dim() > 0 ? 1 : 0), pred.sizes().end());
  if (pred.dim() == 0 || pred.size(0) != static_cast<std::int64_t>(n)) {
    return Status::error("the model's output for " + input + " has shape " + dims({pred.sizes().begin(), pred.sizes().end()}) +
                         "; its first axis must be the " + std::to_string(n) + " samples");
  }
  if (!pred.is_floating_point()) return Status::error("the model's output is not floating point");
  if (data.regression()) {
    if (pred.numel() != static_cast<std::int64_t>(n) * data.target_width) {
      return Status::error("the model gives " + dims(out->output_shape) + " per sample; " + data.name + " has " +
                           std::to_string(data.target_width) + " regression target(s) per sample");
    }
    return {};
  }
  if (pred.dim() != 2) {
    return Status::error("a classifier's output must be [samples, classes]; the model gives " +
                         dims({pred.sizes().begin(), pred.sizes().end()}) + " (for targets use --task regression)");
  }
  std::int32_t top = *std::max_element(data.labels.begin(), data.labels.end());
  if (top >= pred.size(1)) {
    std::size_t at = static_cast<std::size_t>(std::find(data.labels.begin(), data.labels.end(), top) - data.labels.begin());
    return Status::error(data.name + ": label " + std::to_string(top) + " (sample " + std::to_string(at) +
                         ") is beyond the model's " + std::to_string(pred.size(1)) + " outputs (classes 0-" +
                         std::to_string(pred.size(1) - 1) + ")");
  }
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

Status export_torchscript(const std::string& model, const ModelWeights& weights, const std::string& path) {
  std::unique_ptr<Net> net;
  if (Status s = make_net(model, 0, &net); !s.ok()) return s;
  if (Status s = load_weights(*net, weights); !s.ok()) return Status::error("the model's weights: " + s.message());
  return net->save(path);
}

}  // namespace engine
}  // namespace fednode::fl

namespace fednode::fl {
namespace {

// Every entry of the table: nothing libtorch throws (a malformed module, a shape it refuses, an
// allocation that fails) leaves the module as an exception; it comes back as a Status.
template <auto F>
struct Guarded;
template <typename... A, Status (*F)(A...)>
struct Guarded<F> {
  static Status call(A... a) {
    try {
      return F(std::forward<A>(a)...);
    } catch (const std::exception& e) {
      return Status::error("libtorch: " + first_line(e.what()));
    } catch (...) {
      return Status::error("libtorch: an unknown exception");
    }
  }
};

}  // namespace
}  // namespace fednode::fl

extern "C" __attribute__((visibility("default"))) const fednode::fl::TorchModule* fednode_torch_module() {
  using namespace fednode::fl;
  static const TorchModule table{kTorchModuleVersion,
                                 &engine::set_threads,
                                 &Guarded<&engine::initial_weights>::call,
                                 &Guarded<&engine::train_local>::call,
                                 &Guarded<&engine::evaluate>::call,
                                 &Guarded<&engine::export_state_dict>::call,
                                 &Guarded<&engine::export_torchscript>::call,
                                 &Guarded<&engine::check_model>::call};
  return &table;
}
