// Aggregation in bounded memory: the rules over updates spilled to disk and read a few
// coordinates at a time give the same bytes as over updates in memory.
#include "fednode/fl/update_rows.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "fednode/fl/robust_aggregation.h"

namespace fednode::fl {
namespace {

// Three parameters (17 coordinates), so chunks cross parameter boundaries.
ModelWeights random_model(std::mt19937& rng, float scale) {
  std::normal_distribution<float> n(0, scale);
  ModelWeights m;
  m.parameters.push_back({"a.bias", {3}, {}});
  m.parameters.push_back({"a.weight", {2, 5}, {}});
  m.parameters.push_back({"b.weight", {4}, {}});
  for (auto& p : m.parameters) {
    std::size_t count = 1;
    for (auto d : p.shape) count *= static_cast<std::size_t>(d);
    for (std::size_t i = 0; i < count; ++i) p.values.push_back(n(rng));
  }
  return m;
}

class UpdateRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fednode-rows-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::mt19937 rng(7);
    base_ = random_model(rng, 1);
    for (int u = 0; u < 9; ++u) updates_.push_back({random_model(rng, u == 8 ? 50.0f : 1.0f), 10u + u * 7u});
    updates_.push_back(updates_[2]);  // a tie for Krum's order
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  ModelWeights base_;
  std::vector<ClientUpdate> updates_;
};

TEST_F(UpdateRowsTest, EveryRuleOverSpilledChunksGivesTheInMemoryBytes) {
  SpilledRows spilled(dir_.string(), base_);
  for (const auto& u : updates_) ASSERT_TRUE(spilled.add(u.weights, u.samples).ok());
  for (auto kind : {AggregatorKind::kFedAvg, AggregatorKind::kFedAvgM, AggregatorKind::kTrimmedMean,
                    AggregatorKind::kMedian, AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
    AggregatorSettings settings{kind, 0.2, 2, {}};
    ModelWeights expected;
    ASSERT_TRUE(aggregate(settings, updates_, &expected).ok()) << aggregator_name(kind);
    for (std::size_t chunk : {1, 3, 7, 16, 17, 1000}) {
      ModelWeights got;
      ASSERT_TRUE(aggregate_rows(settings, base_, spilled, &got, chunk).ok()) << aggregator_name(kind);
      EXPECT_EQ(model_id(got), model_id(expected)) << aggregator_name(kind) << ", chunk " << chunk;
    }
  }
}

TEST_F(UpdateRowsTest, TheRunningSumIsFedAvgOfTheUpdatesOneAtATime) {
  WeightedSum sum;
  for (const auto& u : updates_) ASSERT_TRUE(sum.add(u.weights, u.samples).ok());
  ModelWeights folded, averaged;
  ASSERT_TRUE(sum.mean(&folded).ok());
  ASSERT_TRUE(fedavg(updates_, &averaged).ok());
  EXPECT_EQ(folded, averaged);
  // By hand on one coordinate: sum(samples * value) / sum(samples).
  double num = 0, den = 0;
  for (const auto& u : updates_) {
    num += static_cast<double>(u.samples) * u.weights.parameters[1].values[4];
    den += static_cast<double>(u.samples);
  }
  EXPECT_FLOAT_EQ(folded.parameters[1].values[4], static_cast<float>(num / den));
  ModelWeights other = base_;
  other.parameters.pop_back();
  Status s = sum.add(other, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("update 10"), std::string::npos) << s.message();
}

TEST_F(UpdateRowsTest, ABadLayoutIsRefusedAndADamagedScratchFileIsNamed) {
  {
    SpilledRows spilled(dir_.string(), base_);
    ModelWeights other = base_;
    other.parameters[1].shape = {5, 2};
    EXPECT_FALSE(spilled.add(other, 1).ok());
    EXPECT_EQ(spilled.size(), 0u);
    ASSERT_TRUE(spilled.add(updates_[0].weights, 1).ok());
    ASSERT_TRUE(spilled.add(updates_[1].weights, 1).ok());
    ASSERT_TRUE(spilled.add(updates_[2].weights, 1).ok());
    std::filesystem::resize_file(dir_ / "update-1.f32", 8);
    ModelWeights out;
    Status s = aggregate_rows({AggregatorKind::kMedian, 0.1, 1, {}}, base_, spilled, &out, 4);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("update-1.f32"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_)) << "scratch files outlive their aggregation";
}

}  // namespace
}  // namespace fednode::fl
