// Loaders against the real CIFAR-10 subset and hand-made bad files; partitioning; FedAvg
// arithmetic; model serialization and the content-addressed store.
#include <gtest/gtest.h>

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "../storage/temp_dir.h"
#include "cifar_subset.h"
#include "fednode/fl/dataset.h"
#include "fednode/fl/fedavg.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/partition.h"
#include "fednode/util/file_io.h"

namespace fednode::fl {
namespace {

namespace fs = std::filesystem;

// The real CIFAR-10 subset from ../shared (or FEDNODE_CIFAR10_DIR); empty when absent.

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string cifar_record(std::uint8_t label) {
  std::string r(3073, '\x10');
  r[0] = static_cast<char>(label);
  return r;
}

TEST(Cifar10Loader, RealSubsetMatchesKnownLabels) {
  std::string dir = cifar_subset_dir();
  if (dir.empty()) GTEST_SKIP() << kNoCifarSubset;
  Dataset test, train;
  ASSERT_TRUE(load_cifar10(dir, false, &test).ok());
  ASSERT_TRUE(load_cifar10(dir, true, &train).ok());
  EXPECT_EQ(test.size(), 932u);
  EXPECT_EQ(train.size(), 5u * 932u);
  std::vector<int> first(test.labels.begin(), test.labels.begin() + 8);
  EXPECT_EQ(first, (std::vector<int>{3, 8, 8, 0, 6, 6, 1, 6}));
  std::vector<int> train_first(train.labels.begin(), train.labels.begin() + 8);
  EXPECT_EQ(train_first, (std::vector<int>{6, 9, 9, 4, 1, 1, 2, 7}));
  auto mean = train.channel_mean();
  ASSERT_EQ(mean.size(), 3u);
  EXPECT_NEAR(mean[0], 0.49, 0.03);  // CIFAR-10's red mean is about 0.491
}

TEST(Cifar10Loader, BadInputIsNamed) {
  testing::TempDir dir;
  write(dir.sub("test_batch.bin"), cifar_record(3) + cifar_record(4).substr(0, 100));
  Dataset d;
  Status s = load_cifar10(dir.path(), false, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("test_batch.bin"), std::string::npos);
  EXPECT_NE(s.message().find("whole number"), std::string::npos);
  write(dir.sub("test_batch.bin"), cifar_record(3) + cifar_record(12));
  s = load_cifar10(dir.path(), false, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("label 12"), std::string::npos) << s.message();
  s = load_cifar10(dir.sub("nowhere"), false, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no such file"), std::string::npos);
  write(dir.sub("test_batch.bin"), "");
  EXPECT_FALSE(load_cifar10(dir.path(), false, &d).ok());
  write(dir.sub("test_batch.bin"), cifar_record(1) + cifar_record(2));
  ASSERT_TRUE(load_cifar10(dir.path(), false, &d).ok());
  EXPECT_EQ(d.size(), 2u);  // any whole number of records
}

std::string idx(std::uint32_t magic, std::vector<std::uint32_t> dims, const std::string& data) {
  std::string out;
  auto be = [&](std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  be(magic);
  for (auto d : dims) be(d);
  return out + data;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(FashionMnistLoader, ReadsGzipAndPlainIdx) {
  testing::TempDir dir;
  write_gz(dir.sub("t10k-images-idx3-ubyte.gz"), idx(0x803, {2, 28, 28}, std::string(2 * 784, '\x7f')));
  write(dir.sub("t10k-labels-idx1-ubyte"), idx(0x801, {2}, std::string("\x09\x00", 2)));
  Dataset d;
  Status s = load_fashion_mnist(dir.path(), false, &d);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.labels[0], 9);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.height, 28);
}

TEST(FashionMnistLoader, BadInputIsNamed) {
  testing::TempDir dir;
  std::string images = dir.sub("t10k-images-idx3-ubyte"), labels = dir.sub("t10k-labels-idx1-ubyte");
  Dataset d;
  write(images, idx(0x804, {1, 28, 28}, std::string(784, 0)));
  write(labels, idx(0x801, {1}, std::string(1, 0)));
  Status s = load_fashion_mnist(dir.path(), false, &d);
  EXPECT_NE(s.message().find("bad magic"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(images), std::string::npos);
  write(images, idx(0x803, {2, 28, 28}, std::string(784, 0)));
  s = load_fashion_mnist(dir.path(), false, &d);
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
  write(images, idx(0x803, {1, 28, 28}, std::string(784, 0)));
  write(labels, idx(0x801, {1}, std::string(1, 10)));
  s = load_fashion_mnist(dir.path(), false, &d);
  EXPECT_NE(s.message().find("label 10"), std::string::npos) << s.message();
  write(labels, idx(0x801, {2}, std::string(2, 1)));
  s = load_fashion_mnist(dir.path(), false, &d);
  EXPECT_NE(s.message().find(labels), std::string::npos) << s.message();
  write_gz(images + ".gz", "x");
  fs::remove(images);
  s = load_fashion_mnist(dir.path(), false, &d);
  EXPECT_FALSE(s.ok());
}

TEST(FashionMnistLoader, DebianPackageWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " absent: install dataset-fashion-mnist";
  Dataset d;
  Status s = load_fashion_mnist(dir, false, &d);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(d.size(), 10000u);
}

void expect_exact_cover(const Shards& shards, std::size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& s : shards) {
    for (auto i : s) seen.at(i)++;
  }
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "sample " << i;
}

TEST(Partition, IidIsDeterministicBalancedAndCovering) {
  auto a = partition_iid(1003, 4, 7), b = partition_iid(1003, 4, 7), c = partition_iid(1003, 4, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  expect_exact_cover(a, 1003);
  for (const auto& s : a) EXPECT_TRUE(s.size() == 250 || s.size() == 251);
}

TEST(Partition, DirichletIsDeterministicCoveringAndSkewed) {
  std::vector<std::int32_t> labels;
  for (int i = 0; i < 5000; ++i) labels.push_back(i % 10);
  Shards a, b, iidish;
  ASSERT_TRUE(partition_dirichlet(labels, 10, 5, 0.3, 50, 11, &a).ok());
  ASSERT_TRUE(partition_dirichlet(labels, 10, 5, 0.3, 50, 11, &b).ok());
  EXPECT_EQ(a, b);
  expect_exact_cover(a, labels.size());
  for (const auto& s : a) EXPECT_GE(s.size(), 50u);
  // Low alpha: some shard is dominated by few classes; high alpha: close to uniform.
  auto max_class_share = [&](const Shards& shards) {
    double worst = 0;
    for (const auto& s : shards) {
      std::vector<int> count(10);
      for (auto i : s) count[labels[i]]++;
      worst = std::max(worst, *std::max_element(count.begin(), count.end()) / static_cast<double>(s.size()));
    }
    return worst;
  };
  ASSERT_TRUE(partition_dirichlet(labels, 10, 5, 1000.0, 50, 11, &iidish).ok());
  EXPECT_GT(max_class_share(a), 0.3);
  EXPECT_LT(max_class_share(iidish), 0.15);
  Shards none;
  EXPECT_FALSE(partition_dirichlet(labels, 10, 5, 0.0, 10, 1, &none).ok());
  EXPECT_FALSE(partition_dirichlet(labels, 10, 5, 0.5, 2000, 1, &none).ok());
}

ModelWeights weights(float a, float b, float c) {
  return ModelWeights{{Parameter{"bias", {1}, {c}}, Parameter{"w", {2}, {a, b}}}};
}

TEST(FedAvg, SampleWeightedMeanMatchesHandComputation) {
  // (1*100 + 4*300) / 400 = 3.25; (2*100 + 0*300) / 400 = 0.5; (-1*100 + 3*300) / 400 = 2
  std::vector<ClientUpdate> updates{{weights(1, 2, -1), 100}, {weights(4, 0, 3), 300}};
  ModelWeights out;
  ASSERT_TRUE(fedavg(updates, &out).ok());
  EXPECT_FLOAT_EQ(out.parameters[1].values[0], 3.25f);
  EXPECT_FLOAT_EQ(out.parameters[1].values[1], 0.5f);
  EXPECT_FLOAT_EQ(out.parameters[0].values[0], 2.0f);
}

TEST(FedAvg, RejectsEmptyZeroAndMismatched) {
  ModelWeights out;
  EXPECT_FALSE(fedavg({}, &out).ok());
  EXPECT_FALSE(fedavg({{weights(1, 2, 3), 0}}, &out).ok());
  ModelWeights other{{Parameter{"w", {3}, {1, 2, 3}}}};
  Status s = fedavg({{weights(1, 2, 3), 1}, {other, 1}}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("update 1"), std::string::npos);
}

TEST(ModelWeights, CanonicalBytesRoundTripAndStableId) {
  ModelWeights w = weights(1.5f, -2.25f, 0.0f);
  ModelWeights back;
  ASSERT_TRUE(deserialize_weights(serialize_weights(w), &back).ok());
  EXPECT_EQ(back, w);
  EXPECT_EQ(model_id(w), model_id(back));
  EXPECT_EQ(model_id(w).size(), 64u);
  EXPECT_NE(model_id(w), model_id(weights(1.5f, -2.25f, 1e-30f)));
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string bytes = serialize_weights(w);
  EXPECT_FALSE(deserialize_weights(bytes.substr(0, bytes.size() - 1), &back).ok());
  EXPECT_FALSE(deserialize_weights(bytes + "x", &back).ok());
  EXPECT_FALSE(deserialize_weights("FNW2", &back).ok());
}

TEST(ModelStore, RoundTripAndCorruptionDetection) {
  testing::TempDir dir;
  ModelStore store(dir.sub("models"));
  ASSERT_TRUE(store.init().ok());
  std::string id;
  ASSERT_TRUE(store.put(weights(1, 2, 3), &id).ok());
  EXPECT_EQ(id, model_id(weights(1, 2, 3)));
  EXPECT_TRUE(store.has(id));
  ModelWeights back;
  ASSERT_TRUE(store.get(id, &back).ok());
  EXPECT_EQ(back, weights(1, 2, 3));
  // Flip a byte on disk: the read is refused and names the file.
  std::string path = store.path_of(id);
  std::string bytes;
  ASSERT_TRUE(read_file(path, &bytes).ok());
  bytes[bytes.size() - 1] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  Status s = store.get(id, &back);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos);
  EXPECT_NE(s.message().find("corrupt"), std::string::npos);
  EXPECT_FALSE(store.get("../../etc/passwd", &back).ok());
  EXPECT_FALSE(store.has("ABC"));
}

// A blob from the network is stored under the id it must hash to, or refused with nothing stored.
TEST(ModelStore, PutAsStoresBytesUnderTheirIdAndRefusesOthers) {
  testing::TempDir dir;
  ModelStore store(dir.sub("models"));
  ASSERT_TRUE(store.init().ok());
  std::string bytes = serialize_weights(weights(4, 5, 6));
  std::string id = sha256_hex(bytes);
  std::string other = sha256_hex("another blob");
  Status s = store.put_as(other, bytes, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not hash to id " + other), std::string::npos) << s.message();
  EXPECT_FALSE(store.has(other));
  EXPECT_FALSE(store.has(id));
  EXPECT_FALSE(store.put_as("../../etc/passwd", bytes, true).ok());
  for (bool transient : {true, false}) {
    ASSERT_TRUE(store.put_as(id, bytes, transient).ok());
    std::string back;
    ASSERT_TRUE(store.get_bytes(id, &back).ok());
    EXPECT_EQ(back, bytes);
  }
}

// sweep: what no one names goes once it is old enough; what is named, young, or not a blob stays.
TEST(ModelStore, SweepRemovesOldBlobsNoOneNames) {
  testing::TempDir dir;
  ModelStore store(dir.sub("models"));
  ASSERT_TRUE(store.init().ok());
  std::string named, orphan, young;
  ASSERT_TRUE(store.put_bytes(serialize_weights(weights(1, 2, 3)), &named).ok());
  ASSERT_TRUE(store.put_bytes(serialize_weights(weights(4, 5, 6)), &orphan).ok());
  std::ofstream(store.path_of(orphan) + ".delta") << "its change from a base";
  auto old = std::filesystem::file_time_type::clock::now() - std::chrono::minutes(20);
  for (const auto& f : std::filesystem::directory_iterator(dir.sub("models"))) std::filesystem::last_write_time(f.path(), old);
  ASSERT_TRUE(store.put_bytes(serialize_weights(weights(7, 8, 9)), &young).ok());
  std::ofstream(dir.sub("models") + "/README").put('x');  // not a blob: never touched
  std::filesystem::last_write_time(dir.sub("models") + "/README", old);
  EXPECT_EQ(store.sweep({named}, std::chrono::minutes(10)), 1u);
  EXPECT_TRUE(store.has(named));
  EXPECT_FALSE(store.has(orphan));
  EXPECT_FALSE(std::filesystem::exists(store.path_of(orphan) + ".delta"));
  EXPECT_TRUE(store.has(young));
  EXPECT_TRUE(std::filesystem::exists(dir.sub("models") + "/README"));
  EXPECT_EQ(store.sweep({named}, std::chrono::minutes(10)), 0u);
}

}  // namespace
}  // namespace fednode::fl
