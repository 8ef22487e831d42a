// The robust aggregation rules against hand computations (see the comments for the arithmetic).
#include "fednode/fl/robust_aggregation.h"

#include "fednode/fl/attack.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fednode::fl {
namespace {

ClientUpdate update(std::vector<float> w, float b, std::uint64_t samples = 10) {
  ClientUpdate u;
  u.weights.parameters.push_back({"b", {1}, {b}});
  u.weights.parameters.push_back({"w", {static_cast<std::int64_t>(w.size())}, std::move(w)});
  u.samples = samples;
  return u;
}

// Five trainers; per coordinate of w: {1,2,3,4,100}, {-5,0,5,10,15}, {7,7,7,7,7}; b: 0..3, -50.
std::vector<ClientUpdate> five() {
  return {update({1, -5, 7}, 0), update({2, 0, 7}, 1), update({3, 5, 7}, 2), update({4, 10, 7}, 3),
          update({100, 15, 7}, -50)};
}

const std::vector<float>& w_of(const ModelWeights& m) { return m.parameters[1].values; }
float b_of(const ModelWeights& m) { return m.parameters[0].values[0]; }

TEST(RobustAggregation, CoordinateMedianOfOddAndEvenCounts) {
  ModelWeights out;
  ASSERT_TRUE(coordinate_median(five(), &out).ok());
  EXPECT_EQ(w_of(out), (std::vector<float>{3, 5, 7}));
  EXPECT_EQ(b_of(out), 1.0f);  // {-50, 0, 1, 2, 3}
  auto four = five();
  four.pop_back();
  ASSERT_TRUE(coordinate_median(four, &out).ok());
  EXPECT_EQ(w_of(out), (std::vector<float>{2.5f, 2.5f, 7}));  // (2+3)/2, (0+5)/2
}

TEST(RobustAggregation, TrimmedMeanDropsTheExtremesOfEachCoordinate) {
  ModelWeights out;
  // floor(0.2 * 5) = 1 from each end: (2+3+4)/3 = 3, (0+5+10)/3 = 5, 7; b: (0+1+2)/3 = 1.
  ASSERT_TRUE(trimmed_mean(five(), 0.2, &out).ok());
  EXPECT_EQ(w_of(out), (std::vector<float>{3, 5, 7}));
  EXPECT_FLOAT_EQ(b_of(out), 1.0f);
  // floor(0.1 * 5) = 0: the plain unweighted mean, (1+2+3+4+100)/5 = 22.
  ASSERT_TRUE(trimmed_mean(five(), 0.1, &out).ok());
  EXPECT_FLOAT_EQ(w_of(out)[0], 22.0f);
  EXPECT_FALSE(trimmed_mean(five(), 0.5, &out).ok());
}

// One coordinate: x = {0, 1, 2, 3, 100}, f = 1, so each score sums the n - f - 2 = 2 smallest
// squared distances: 0 -> 1 + 4 = 5; 1 -> 1 + 1 = 2; 2 -> 1 + 1 = 2; 3 -> 1 + 4 = 5;
// 100 -> 97^2 + 98^2 = 19013.
std::vector<ClientUpdate> krum_case() {
  return {update({0}, 0, 10), update({1}, 0, 10), update({2}, 0, 10), update({3}, 0, 30), update({100}, 0, 10)};
}

TEST(RobustAggregation, KrumPicksTheUpdateClosestToItsNeighbours) {
  ModelWeights out;
  std::vector<std::size_t> chosen;
  ASSERT_TRUE(multi_krum(krum_case(), 1, 1, &out, &chosen).ok());
  // 1 and 2 tie at 2: the tie goes to the smaller values, whatever the order of arrival.
  EXPECT_EQ(chosen, std::vector<std::size_t>{1});
  EXPECT_EQ(w_of(out)[0], 1.0f);
}

TEST(RobustAggregation, MultiKrumAveragesTheBestScoredWeightedBySamples) {
  ModelWeights out;
  std::vector<std::size_t> chosen;
  // m = n - f = 4: {1, 2} (score 2), then {0, 3} (score 5); 100 is left out.
  ASSERT_TRUE(multi_krum(krum_case(), 1, 4, &out, &chosen).ok());
  std::sort(chosen.begin(), chosen.end());
  EXPECT_EQ(chosen, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_FLOAT_EQ(w_of(out)[0], 2.0f);  // (0*10 + 1*10 + 2*10 + 3*30) / 60
  AggregatorSettings s{AggregatorKind::kMultiKrum, 0.1, 1, {}};
  ModelWeights via_settings;
  ASSERT_TRUE(aggregate(s, krum_case(), &via_settings).ok());
  EXPECT_EQ(via_settings, out);
}

TEST(RobustAggregation, KrumNeedsTwoFPlusThreeUpdates) {
  auto four = krum_case();
  four.pop_back();
  ModelWeights out;
  Status s = multi_krum(four, 1, 1, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("needs 2f + 3 = 5"), std::string::npos) << s.message();
}

TEST(RobustAggregation, EveryRuleGivesTheSameModelWhateverTheOrderOfArrival) {
  for (auto kind : {AggregatorKind::kFedAvg, AggregatorKind::kTrimmedMean, AggregatorKind::kMedian,
                    AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
    AggregatorSettings s{kind, 0.2, 1, {}};
    auto updates = five();
    ModelWeights first;
    ASSERT_TRUE(aggregate(s, updates, &first).ok()) << aggregator_name(kind);
    std::reverse(updates.begin(), updates.end());
    std::rotate(updates.begin(), updates.begin() + 2, updates.end());
    ModelWeights second;
    ASSERT_TRUE(aggregate(s, updates, &second).ok());
    EXPECT_EQ(first, second) << aggregator_name(kind);
  }
}

// The point of them: one trainer sends its weights scaled by -10. FedAvg follows it; the robust
// rules stay with the four honest ones (all near 1.0).
TEST(RobustAggregation, OneScaledUpdateMovesFedAvgButNotTheRobustRules) {
  std::vector<ClientUpdate> updates{update({1.0f, 1.0f}, 1.0f), update({1.1f, 0.9f}, 1.0f), update({0.9f, 1.1f}, 1.0f),
                                    update({1.05f, 0.95f}, 1.0f), update({-10.0f, -10.0f}, -10.0f)};
  for (auto kind : {AggregatorKind::kFedAvg, AggregatorKind::kTrimmedMean, AggregatorKind::kMedian,
                    AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
    ModelWeights out;
    ASSERT_TRUE(aggregate({kind, 0.2, 1, {}}, updates, &out).ok());
    float w0 = w_of(out)[0];
    if (kind == AggregatorKind::kFedAvg) {
      EXPECT_LT(w0, -1.0f);  // (1 + 1.1 + 0.9 + 1.05 - 10) / 5 = -1.19
    } else {
      EXPECT_NEAR(w0, 1.0f, 0.11f) << aggregator_name(kind);
    }
  }
}

TEST(RobustAggregation, NamesParseBackAndMismatchedLayoutsAreNamed) {
  for (auto kind : {AggregatorKind::kFedAvg, AggregatorKind::kTrimmedMean, AggregatorKind::kMedian,
                    AggregatorKind::kKrum, AggregatorKind::kMultiKrum}) {
    EXPECT_EQ(parse_aggregator(aggregator_name(kind)), kind);
  }
  EXPECT_FALSE(parse_aggregator("bulyan"));
  auto updates = five();
  updates[3].weights.parameters[1].shape = {4};
  updates[3].weights.parameters[1].values.push_back(0);
  ModelWeights out;
  Status s = coordinate_median(updates, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("update 3"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fednode::fl

namespace fednode::fl {
namespace {

TEST(Attack, EachCorruptionAgainstAHandComputation) {
  ModelWeights base, trained;
  base.parameters.push_back({"w", {2}, {1.0f, -1.0f}});
  trained.parameters.push_back({"w", {2}, {1.5f, -2.0f}});
  ModelWeights flipped = trained;
  apply_attack(Attack::kSignFlip, base, 1, &flipped);
  EXPECT_EQ(flipped.parameters[0].values, (std::vector<float>{-4.0f, 9.0f}));  // 1 - 10*0.5, -1 - 10*(-1)
  ModelWeights zeroed = trained;
  apply_attack(Attack::kConstant, base, 1, &zeroed);
  EXPECT_EQ(zeroed.parameters[0].values, (std::vector<float>{0.0f, 0.0f}));
  ModelWeights noisy = trained, again = trained;
  apply_attack(Attack::kNoise, base, 7, &noisy);
  apply_attack(Attack::kNoise, base, 7, &again);
  EXPECT_EQ(noisy, again);  // seeded
  EXPECT_NE(noisy, trained);
  ModelWeights untouched = trained;
  apply_attack(Attack::kNone, base, 1, &untouched);
  EXPECT_EQ(untouched, trained);
  EXPECT_EQ(parse_attack("sign-flip"), Attack::kSignFlip);
  EXPECT_FALSE(parse_attack("backdoor"));
}

}  // namespace
}  // namespace fednode::fl

namespace fednode::fl {
namespace {

}  // namespace
}  // namespace fednode::fl
