#include "fednode/ctl/train_local.h"

#include <chrono>
#include <cstdio>
#include <numeric>

#include "fednode/fl/trainer.h"

namespace fednode {

int run_train_local(const TrainLocalOptions& o) {
  fl::Dataset train, test;
  Status s = o.dataset == "cifar10" ? fl::load_cifar10(o.dataset_dir, true, &train)
                                    : fl::load_fashion_mnist(o.dataset_dir, true, &train);
  if (s.ok()) {
    s = o.dataset == "cifar10" ? fl::load_cifar10(o.dataset_dir, false, &test)
                               : fl::load_fashion_mnist(o.dataset_dir, false, &test);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "fednode train-local: %s\n", s.message().c_str());
    if (o.dataset == "cifar10") {
      std::fprintf(stderr, "  get it with scripts/get-cifar10.sh, or pass --dataset-dir, or use --dataset fashion-mnist\n");
    }
    return 1;
  }
  std::string model = o.model.empty() ? fl::default_model_for(train.name) : o.model;
  if (model != "cifar10-cnn" && model != "fmnist-cnn") model = "torchscript:" + model;  // checked by the CLI
  fl::set_torch_threads(o.threads);
  fl::ModelWeights weights;
  if (Status st = fl::initial_weights(model, o.seed, &weights); !st.ok()) {
    std::fprintf(stderr, "fednode train-local: %s\n", st.message().c_str());
    return 2;
  }
  std::printf("train-local: %s, model %s (%zu parameters), %zu training and %zu test images, %d epoch(s), "
              "batch %d, lr %g, momentum %g, %d thread(s)\n",
              train.name.c_str(), model.c_str(), weights.parameter_count(), train.size(), test.size(), o.epochs,
              o.batch_size, o.lr, o.momentum, o.threads);
  std::vector<std::uint32_t> all(train.size());
  std::iota(all.begin(), all.end(), 0u);
  fl::TrainConfig cfg;
  cfg.epochs = o.epochs;
  cfg.batch_size = o.batch_size;
  cfg.lr = o.lr;
  cfg.momentum = o.momentum;
  cfg.weight_decay = o.weight_decay;
  cfg.augment = o.augment;
  cfg.seed = o.seed;
  auto epoch_start = std::chrono::steady_clock::now();
  Status eval_status;
  cfg.on_epoch = [&](int epoch, const fl::ModelWeights& w, double train_loss) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    fl::EvalResult e;
    eval_status = fl::evaluate(model, w, test, 256, &e);
    if (!eval_status.ok()) return;
    std::printf("epoch %3d/%d  train loss %.4f  test loss %.4f  test accuracy %.4f  (%.1f s, %.0f images/s)\n",
                epoch, o.epochs, train_loss, e.loss, e.accuracy, secs, static_cast<double>(train.size()) / secs);
    std::fflush(stdout);
    epoch_start = std::chrono::steady_clock::now();
  };
  fl::TrainResult result;
  if (Status st = fl::train_local(model, weights, train, all, cfg, {}, &result); !st.ok() || !eval_status.ok()) {
    std::fprintf(stderr, "fednode train-local: %s\n", (st.ok() ? eval_status : st).message().c_str());
    return 1;
  }
  if (!o.save.empty()) {
    if (Status st = fl::export_state_dict(result.weights, o.save); !st.ok()) {
      std::fprintf(stderr, "fednode train-local: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("saved %s (model id %s)\n", o.save.c_str(), fl::model_id(result.weights).c_str());
  }
  return 0;
}

}  // namespace fednode
