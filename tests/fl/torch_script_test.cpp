// TorchScript modules a party brings (--model FILE), made here by Python's torch.jit.script:
// their federated weights (parameters and BatchNorm statistics, not num_batches_tracked),
// training for classification (SGD) and regression (Adam), the first-batch check and its
// errors, and export back to TorchScript that Python runs with the same outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "../storage/temp_dir.h"
#include "fednode/fl/local_data.h"
#include "fednode/fl/trainer.h"
#include "fednode/util/file_io.h"

namespace fednode::fl {
namespace {

bool have_python_torch() { return std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0; }
constexpr const char* kNoTorch = "/usr/bin/python3 with torch not installed (Debian: python3-torch; scripts/setup-deps.sh)";

// A scripted net: Linear(F, 16) - BatchNorm1d - ReLU - Linear(16, OUT).
std::string make_module(const testing::TempDir& dir, int features, int outputs) {
  std::string path = dir.sub("net.pt");
  std::string py = dir.sub("make.py");
  std::ofstream(py) << "import torch\n"
                       "class Net(torch.nn.Module):\n"
                       "    def __init__(self):\n"
                       "        super().__init__()\n"
                       "        self.fc = torch.nn.Linear(" << features << ", 16)\n"
                       "        self.bn = torch.nn.BatchNorm1d(16)\n"
                       "        self.out = torch.nn.Linear(16, " << outputs << ")\n"
                       "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                       "        return self.out(torch.relu(self.bn(self.fc(x))))\n"
                       "torch.manual_seed(3)\n"
                       "torch.jit.script(Net()).save('" << path << "')\n";
  EXPECT_EQ(std::system(("/usr/bin/python3 " + py).c_str()), 0);
  return "torchscript:" + path;
}

// Two separable classes (or a linear target) in `features` dimensions.
Dataset toy(int features, std::size_t n, bool regression) {
  Dataset d;
  d.name = "toy";
  d.feature_shape = {features};
  d.classes = 2;
  for (std::size_t i = 0; i < n; ++i) {
    float sign = i % 2 ? 1.0f : -1.0f;
    float sum = 0;
    for (int f = 0; f < features; ++f) {
      float v = sign * 0.8f + 0.3f * std::sin(static_cast<float>(i * 7 + f));
      d.features.push_back(v);
      sum += v * static_cast<float>(f + 1) / features;
    }
    if (regression) {
      d.targets.push_back(sum);
    } else {
      d.labels.push_back(i % 2);
    }
  }
  if (regression) d.target_width = 1;
  return d;
}

TEST(TorchScriptModel, WeightsAreParametersAndFloatBuffers) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 5, 2);
  ModelWeights w;
  ASSERT_TRUE(initial_weights(model, 1, &w).ok());
  std::vector<std::string> names;
  for (const auto& p : w.parameters) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn.bias", "bn.running_mean", "bn.running_var", "bn.weight", "fc.bias",
                                              "fc.weight", "out.bias", "out.weight"}))
      << "num_batches_tracked (an integer buffer) stays the module's";
  ModelWeights again;
  ASSERT_TRUE(initial_weights(model, 99, &again).ok());
  EXPECT_EQ(model_id(w), model_id(again)) << "the module's own weights, whatever the seed: every peer makes the same";
}

TEST(TorchScriptModel, TrainsAClassifierAndUpdatesBatchNormStatistics) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 5, 2);
  Dataset data = toy(5, 200, false);
  ModelCheck check;
  ASSERT_TRUE(check_model(model, data, &check).ok());
  EXPECT_EQ(check.input_shape, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(check.output_shape, (std::vector<std::int64_t>{2}));
  ModelWeights base;
  ASSERT_TRUE(initial_weights(model, 1, &base).ok());
  EvalResult before, after;
  ASSERT_TRUE(evaluate(model, base, data, 64, &before).ok());
  std::vector<std::uint32_t> all(data.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.lr = 0.05;
  TrainResult r;
  ASSERT_TRUE(train_local(model, base, data, all, cfg, {}, &r).ok());
  ASSERT_TRUE(evaluate(model, r.weights, data, 64, &after).ok());
  EXPECT_GT(after.accuracy, 0.95);
  EXPECT_LT(after.loss, before.loss);
  EXPECT_EQ(after.per_class_accuracy.size(), 2u);
  auto find = [](const ModelWeights& w, const std::string& n) {
    for (const auto& p : w.parameters) {
      if (p.name == n) return p.values;
    }
    return std::vector<float>{};
  };
  EXPECT_NE(find(base, "bn.running_mean"), find(r.weights, "bn.running_mean")) << "BatchNorm statistics are learnt";
}

TEST(TorchScriptModel, TrainsARegressionWithAdam) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 4, 1);
  Dataset data = toy(4, 256, true);
  ModelCheck check;
  ASSERT_TRUE(check_model(model, data, &check).ok());
  ModelWeights base;
  ASSERT_TRUE(initial_weights(model, 1, &base).ok());
  std::vector<std::uint32_t> all(data.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  EvalResult before, after;
  ASSERT_TRUE(evaluate(model, base, data, 64, &before).ok());
  TrainConfig cfg;
  cfg.optimizer = "adam";
  cfg.epochs = 20;
  cfg.lr = 0.01;
  TrainResult r;
  ASSERT_TRUE(train_local(model, base, data, all, cfg, {}, &r).ok());
  ASSERT_TRUE(evaluate(model, r.weights, data, 64, &after).ok());
  EXPECT_TRUE(after.regression);
  EXPECT_LT(after.loss, before.loss / 5) << "MSE " << before.loss << " -> " << after.loss;
  EXPECT_GT(after.mae, 0);
  EXPECT_LT(after.mae, before.mae);
}

// uint8 samples (an .npz of images) are held as bytes and reach the model as the same floats.
TEST(TorchScriptModel, ByteSamplesReachTheModelAsTheSameFloats) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 5, 2);
  Dataset floats = toy(5, 40, false), bytes = floats;
  for (auto& v : floats.features) v = static_cast<float>(static_cast<int>(std::fabs(v) * 100) % 256);
  bytes.features.clear();
  for (float v : floats.features) bytes.byte_features.push_back(static_cast<std::uint8_t>(v));
  ModelWeights w;
  ASSERT_TRUE(initial_weights(model, 1, &w).ok());
  EvalResult a, b;
  ASSERT_TRUE(evaluate(model, w, floats, 16, &a).ok());
  ASSERT_TRUE(evaluate(model, w, bytes, 16, &b).ok());
  EXPECT_DOUBLE_EQ(a.loss, b.loss);
}

// The run pins the module's SHA-256; a file replaced afterwards is refused at its next load.
TEST(TorchScriptModel, AFileReplacedAfterThePinIsRefused) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 5, 2);
  std::string path = model.substr(std::string("torchscript:").size()), bytes;
  ASSERT_TRUE(read_file(path, &bytes).ok());
  std::string pinned = model + "#" + sha256_hex(bytes);
  ModelWeights w;
  ASSERT_TRUE(initial_weights(pinned, 1, &w).ok());
  make_module(dir, 5, 3);  // the same path, another module
  Status s = initial_weights(pinned, 1, &w);
  EXPECT_NE(s.message().find("changed since the run pinned it"), std::string::npos) << s.message();
}

TEST(TorchScriptModel, TheFirstBatchNamesWhatDoesNotFit) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 5, 2);
  ModelCheck check;
  Status s = check_model(model, toy(7, 20, false), &check);
  EXPECT_NE(s.message().find("does not take toy's samples"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[7]"), std::string::npos) << s.message();
  Dataset three = toy(5, 20, false);
  three.labels[13] = 4;
  s = check_model(model, three, &check);
  EXPECT_NE(s.message().find("label 4 (sample 13) is beyond the model's 2 outputs"), std::string::npos) << s.message();
  s = check_model(model, toy(5, 20, true), &check);
  EXPECT_NE(s.message().find("1 regression target"), std::string::npos) << s.message();
  s = check_model("torchscript:" + dir.sub("missing.pt"), three, &check);
  EXPECT_NE(s.message().find("missing.pt: No such file"), std::string::npos) << s.message();
  std::ofstream(dir.sub("junk.pt")) << "not a zip";
  s = check_model("torchscript:" + dir.sub("junk.pt"), three, &check);
  EXPECT_NE(s.message().find("junk.pt: not a TorchScript module"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  s = check_model("cifar10-cnn", three, &check);
  EXPECT_NE(s.message().find("cifar10-cnn classifies 3x32x32 images"), std::string::npos) << s.message();
}

TEST(TorchScriptModel, ExportRunsInPythonWithTheSameOutputs) {
  if (!have_python_torch()) GTEST_SKIP() << kNoTorch;
  testing::TempDir dir;
  std::string model = make_module(dir, 3, 2);
  Dataset data = toy(3, 64, false);
  ModelWeights base;
  ASSERT_TRUE(initial_weights(model, 1, &base).ok());
  std::vector<std::uint32_t> all(data.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  TrainConfig cfg;
  TrainResult r;
  ASSERT_TRUE(train_local(model, base, data, all, cfg, {}, &r).ok());
  std::string out = dir.sub("exported.pt");
  ASSERT_TRUE(export_torchscript(model, r.weights, out).ok());
  EvalResult mine;
  ASSERT_TRUE(evaluate(model, r.weights, data, 64, &mine).ok());
  // Python: the module alone (no class definition), in eval mode, on the same samples.
  std::ofstream(dir.sub("x.bin"), std::ios::binary).write(reinterpret_cast<const char*>(data.features.data()),
                                                          static_cast<std::streamsize>(data.features.size() * 4));
  std::string cmd = "/usr/bin/python3 -c \"import torch, numpy as np; m = torch.jit.load('" + out + "'); m.eval(); "
                    "x = torch.from_numpy(np.fromfile('" + dir.sub("x.bin") + "', dtype=np.float32).reshape(-1, 3)); "
                    "y = torch.tensor([i % 2 for i in range(64)]); "
                    "print(float(torch.nn.functional.cross_entropy(m(x), y)))\" > " + dir.sub("loss.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  double py_loss = 0;
  std::ifstream(dir.sub("loss.txt")) >> py_loss;
  EXPECT_NEAR(py_loss, mine.loss, 1e-5);
  Status s = export_torchscript("cifar10-cnn", base, dir.sub("x.pt"));
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace fednode::fl
