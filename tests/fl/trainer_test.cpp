// Models, local training and evaluation through the libtorch engine, on the real CIFAR-10
// subset where present.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../storage/temp_dir.h"
#include "cifar_subset.h"
#include "fednode/fl/fedavg.h"
#include "fednode/fl/partition.h"
#include "fednode/fl/trainer.h"

namespace fednode::fl {
namespace {



TEST(Models, ParameterCountsMatchTheReferenceArchitectures) {
  ModelWeights w;
  ASSERT_TRUE(initial_weights("cifar10-cnn", 1, &w).ok());
  EXPECT_EQ(w.parameter_count(), 62006u);  // PyTorch tutorial / Flower quickstart CNN
  EXPECT_EQ(w.parameters.size(), 10u);
  EXPECT_EQ(w.parameters[0].name, "conv1.bias");
  ASSERT_TRUE(initial_weights("fmnist-cnn", 1, &w).ok());
  EXPECT_EQ(w.parameter_count(), 44426u);
  EXPECT_FALSE(initial_weights("resnet-9000", 1, &w).ok());
}

TEST(Models, InitialWeightsAreDeterministicPerSeed) {
  ModelWeights a, b, c;
  ASSERT_TRUE(initial_weights("cifar10-cnn", 5, &a).ok());
  ASSERT_TRUE(initial_weights("cifar10-cnn", 5, &b).ok());
  ASSERT_TRUE(initial_weights("cifar10-cnn", 6, &c).ok());
  EXPECT_EQ(model_id(a), model_id(b));
  EXPECT_NE(model_id(a), model_id(c));
}

Dataset tiny_fmnist(std::size_t n) {
  Dataset d;
  d.name = "fashion-mnist";
  d.channels = 1;
  d.height = d.width = 28;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t label = static_cast<std::uint8_t>(i % 2);
    d.labels.push_back(label);
    // Class 0: dark image, class 1: bright image: trivially learnable.
    d.pixels.insert(d.pixels.end(), 784, label ? 220 : 20);
  }
  return d;
}

std::vector<std::uint32_t> first_indices(std::uint32_t n) {
  std::vector<std::uint32_t> out(n);
  std::iota(out.begin(), out.end(), 0u);
  return out;
}

TEST(Training, LearnsASeparableProblemAndReportsProgress) {
  set_torch_threads(1);
  Dataset d = tiny_fmnist(200);
  ModelWeights w;
  ASSERT_TRUE(initial_weights("fmnist-cnn", 3, &w).ok());
  std::vector<std::uint32_t> all = first_indices(200);
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.lr = 0.05;
  int calls = 0;
  TrainResult r;
  ASSERT_TRUE(train_local("fmnist-cnn", w, d, all, cfg, [&](const TrainProgress& p) {
    ++calls;
    EXPECT_LE(p.batch, p.batches);
  }, &r).ok());
  EXPECT_EQ(r.samples, 200u);
  EXPECT_EQ(calls, 3 * 7);
  EvalResult e;
  ASSERT_TRUE(evaluate("fmnist-cnn", r.weights, d, 64, &e).ok());
  EXPECT_GT(e.accuracy, 0.95);
  EXPECT_EQ(e.per_class_accuracy.size(), 10u);
}

double distance(const ModelWeights& a, const ModelWeights& b) {
  double sum = 0;
  for (std::size_t p = 0; p < a.parameters.size(); ++p) {
    for (std::size_t i = 0; i < a.parameters[p].values.size(); ++i) {
      double d = static_cast<double>(a.parameters[p].values[i]) - b.parameters[p].values[i];
      sum += d * d;
    }
  }
  return std::sqrt(sum);
}

// FedProx's proximal term pulls the local model towards the base: the same training with a
// larger mu ends nearer the base model, step by step, and still learns the problem.
TEST(Training, ProximalTermKeepsTheModelNearTheBase) {
  set_torch_threads(1);
  Dataset d = tiny_fmnist(200);
  ModelWeights base;
  ASSERT_TRUE(initial_weights("fmnist-cnn", 3, &base).ok());
  std::vector<std::uint32_t> all = first_indices(200);
  std::vector<double> moved;
  for (double mu : {0.0, 1.0, 10.0}) {
    TrainConfig cfg;
    cfg.epochs = 3;
    cfg.lr = 0.05;
    cfg.proximal_mu = mu;
    TrainResult r;
    ASSERT_TRUE(train_local("fmnist-cnn", base, d, all, cfg, {}, &r).ok());
    moved.push_back(distance(base, r.weights));
    if (mu == 1.0) {
      EvalResult e;
      ASSERT_TRUE(evaluate("fmnist-cnn", r.weights, d, 64, &e).ok());
      EXPECT_GT(e.accuracy, 0.95);
    }
  }
  EXPECT_LT(moved[1], 0.9 * moved[0]) << moved[0] << " " << moved[1];
  EXPECT_LT(moved[2], 0.5 * moved[1]) << moved[1] << " " << moved[2];
  TrainConfig negative;
  negative.proximal_mu = -1;
  TrainResult r;
  EXPECT_FALSE(train_local("fmnist-cnn", base, d, all, negative, {}, &r).ok());
}

TEST(Training, BadInputIsRefused) {
  Dataset d = tiny_fmnist(10);
  ModelWeights w;
  ASSERT_TRUE(initial_weights("cifar10-cnn", 1, &w).ok());
  TrainResult r;
  Status s = train_local("cifar10-cnn", w, d, {0, 1}, {}, {}, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("classifies 3x32x32 images"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("has 1x28x28 images"), std::string::npos) << s.message();
  ModelWeights fw;
  ASSERT_TRUE(initial_weights("fmnist-cnn", 1, &fw).ok());
  EXPECT_FALSE(train_local("fmnist-cnn", fw, d, {}, {}, {}, &r).ok());
  EXPECT_FALSE(train_local("fmnist-cnn", fw, d, {99}, {}, {}, &r).ok());
  EXPECT_FALSE(train_local("fmnist-cnn", w, d, {0}, {}, {}, &r).ok());  // wrong base layout
}

// A short real run: two trainers on IID halves of the CIFAR-10 subset, one FedAvg round, must
// beat chance (10%) by a clear margin on the real test images.
TEST(Training, RealCifarSubsetBeatsChance) {
  std::string dir = cifar_subset_dir();
  if (dir.empty()) GTEST_SKIP() << kNoCifarSubset;
  set_torch_threads(1);
  Dataset train, test;
  ASSERT_TRUE(load_cifar10(dir, true, &train).ok());
  ASSERT_TRUE(load_cifar10(dir, false, &test).ok());
  ModelWeights global;
  ASSERT_TRUE(initial_weights("cifar10-cnn", 1, &global).ok());
  EvalResult before;
  ASSERT_TRUE(evaluate("cifar10-cnn", global, test, 256, &before).ok());
  auto shards = partition_iid(train.size(), 2, 1);
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.lr = 0.01;
  std::vector<ClientUpdate> updates;
  for (const auto& shard : shards) {
    TrainResult r;
    ASSERT_TRUE(train_local("cifar10-cnn", global, train, shard, cfg, {}, &r).ok());
    updates.push_back({r.weights, r.samples});
  }
  ModelWeights averaged;
  ASSERT_TRUE(fedavg(updates, &averaged).ok());
  EvalResult after;
  ASSERT_TRUE(evaluate("cifar10-cnn", averaged, test, 256, &after).ok());
  std::printf("CIFAR-10 subset: test accuracy %.3f before, %.3f after one FedAvg round of 2 x 3 epochs\n",
              before.accuracy, after.accuracy);
  EXPECT_GT(after.accuracy, 0.20) << "not clearly better than chance (0.10)";
  EXPECT_LT(after.loss, before.loss);
}

// The exported state dict loads in PyTorch (Python) with the same values.
TEST(Export, StateDictLoadsInPythonTorch) {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torch not installed (Debian: python3-torch)";
  }
  testing::TempDir dir;
  ModelWeights w;
  ASSERT_TRUE(initial_weights("cifar10-cnn", 9, &w).ok());
  std::string path = dir.sub("model.pt");
  ASSERT_TRUE(export_state_dict(w, path).ok());
  double sum = 0;
  for (const auto& p : w.parameters) {
    for (float v : p.values) sum += v;
  }
  std::string out = dir.sub("out.txt");
  std::string cmd = "/usr/bin/python3 -c \"import torch; sd = torch.load('" + path +
                    "'); print(len(sd), sum(t.numel() for t in sd.values()), float(sum(t.double().sum() for t in sd.values())), tuple(sd['conv1.weight'].shape))\" > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  char expected[256];
  std::snprintf(expected, sizeof expected, "10 62006 ");
  EXPECT_EQ(line.rfind(expected, 0), 0u) << line;
  double py_sum = std::stod(line.substr(std::string(expected).size()));
  EXPECT_NEAR(py_sum, sum, 1e-6);
  EXPECT_NE(line.find("(6, 3, 5, 5)"), std::string::npos) << line;
}

}  // namespace
}  // namespace fednode::fl
