// Server optimisers against hand computations, and the property the daemon relies on: the state
// goes through its blob bytes between rounds, so another aggregator given the same blobs computes
// the same next model and state, byte for byte.
#include "fednode/fl/server_optimizer.h"

#include <gtest/gtest.h>

#include "fednode/fl/robust_aggregation.h"

namespace fednode::fl {
namespace {

ModelWeights one(float w) {
  ModelWeights m;
  m.parameters.push_back({"w", {1}, {w}});
  return m;
}

// What a state blob is on the wire and on disk: its canonical bytes, read back.
ModelWeights through_bytes(const ModelWeights& state) {
  ModelWeights back;
  EXPECT_TRUE(deserialize_weights(serialize_weights(state), &back).ok());
  return back;
}

float value(const ModelWeights& m) { return m.parameters[0].values[0]; }

// Momentum 0.9, lr 1: every trainer moves to 0 from 1 (d = 1, v = 1, next 0); then they stay at
// the global 0 (d = 0, v = 0.9, next -0.9): the momentum carries on through the state blob.
TEST(ServerOptimizer, FedAvgMCarriesItsMomentum) {
  ServerOptimizer opt{ServerRule::kFedAvgM, 1.0, 0.9};
  ModelWeights next, state, next2, state2;
  ASSERT_TRUE(server_step(opt, one(1), one(0), {}, &next, &state).ok());
  EXPECT_FLOAT_EQ(value(next), 0.0f);
  ASSERT_EQ(state.parameters.size(), 1u);
  EXPECT_EQ(state.parameters[0].name, "velocity/w");
  EXPECT_FLOAT_EQ(value(state), 1.0f);
  ASSERT_TRUE(server_step(opt, next, one(0), through_bytes(state), &next2, &state2).ok());
  EXPECT_FLOAT_EQ(value(next2), -0.9f);
  EXPECT_FLOAT_EQ(value(state2), 0.9f);
}

// global 1, average 2 (d = 1), then average 2 again from 1.1 (d = 0.9), beta1 0.9, beta2 0.99,
// eta 0.1, tau 1e-9:
//   step 1: m = 0.1, v = 0.01 (Yogi: 0 - 0.01 * 1 * sign(0 - 1) = 0.01), 1 + 0.1*0.1/0.1 = 1.1
//   step 2 Adam: m = 0.18, v = 0.99*0.01 + 0.01*0.81 = 0.018,  1.1 + 0.018/sqrt(0.018) = 1.234164
//   step 2 Yogi: v = 0.01 - 0.0081 * sign(0.01 - 0.81) = 0.0181, 1.1 + 0.018/sqrt(0.0181) = 1.233793
TEST(ServerOptimizer, FedAdamAndFedYogiAgainstAHandComputation) {
  for (auto [rule, second] : {std::pair{ServerRule::kFedAdam, 1.234164}, std::pair{ServerRule::kFedYogi, 1.233793}}) {
    ServerOptimizer opt{rule, 0.1, 0.0, 0.9, 0.99, 1e-9};
    ModelWeights once, state, twice, state2;
    ASSERT_TRUE(server_step(opt, one(1), one(2), {}, &once, &state).ok());
    EXPECT_NEAR(value(once), 1.1, 1e-5);
    ASSERT_EQ(state.parameters.size(), 2u);
    EXPECT_EQ(state.parameters[0].name, "m/w");
    EXPECT_EQ(state.parameters[1].name, "v/w");
    EXPECT_NEAR(state.parameters[0].values[0], 0.1, 1e-7);
    EXPECT_NEAR(state.parameters[1].values[0], 0.01, 1e-8);
    ASSERT_TRUE(server_step(opt, once, one(2), through_bytes(state), &twice, &state2).ok());
    EXPECT_NEAR(value(twice), second, 2e-5);
    EXPECT_NEAR(state2.parameters[0].values[0], 0.18, 1e-6);
  }
}

ModelWeights layer(float a, float b, float c) {
  ModelWeights m;
  m.parameters.push_back({"bias", {1}, {a}});
  m.parameters.push_back({"weight", {2}, {b, c}});
  return m;
}

// Three rounds on one aggregator, and the same three rounds where a different node takes over
// before each round with only the committed blobs' bytes: identical model and state ids.
TEST(ServerOptimizer, AnotherAggregatorGivenTheCommittedBlobsContinuesExactly) {
  for (auto kind : {AggregatorKind::kFedAvgM, AggregatorKind::kFedAdam, AggregatorKind::kFedYogi}) {
    AggregatorSettings settings;
    settings.kind = kind;
    settings.server.lr = kind == AggregatorKind::kFedAvgM ? 1.0 : 0.05;
    std::vector<std::vector<ClientUpdate>> rounds = {
        {{layer(0.5f, 1.0f, -1.0f), 10}, {layer(0.1f, 0.2f, 0.3f), 30}},
        {{layer(0.4f, 0.9f, -0.7f), 20}, {layer(0.3f, 0.1f, 0.2f), 20}},
        {{layer(-0.2f, 0.5f, 0.1f), 5}, {layer(0.25f, 0.6f, 0.0f), 15}}};
    ModelWeights model = layer(0, 0, 0), state, base_of_round3;
    std::vector<std::pair<std::string, std::string>> one_node;
    for (const auto& updates : rounds) {
      ModelWeights next, next_state;
      base_of_round3 = model;
      ASSERT_TRUE(aggregate_round(settings, model, state, updates, &next, &next_state).ok());
      model = next;
      state = next_state;
      one_node.emplace_back(model_id(model), model_id(state));
    }
    std::string model_bytes = serialize_weights(layer(0, 0, 0)), state_bytes;
    for (std::size_t r = 0; r < rounds.size(); ++r) {
      ModelWeights base, committed_state, next, next_state;  // a fresh node: nothing but the bytes
      ASSERT_TRUE(deserialize_weights(model_bytes, &base).ok());
      if (!state_bytes.empty()) {
        ASSERT_TRUE(deserialize_weights(state_bytes, &committed_state).ok());
      }
      ASSERT_TRUE(aggregate_round(settings, base, committed_state, rounds[r], &next, &next_state).ok());
      model_bytes = serialize_weights(next);
      state_bytes = serialize_weights(next_state);
      EXPECT_EQ(sha256_hex(model_bytes), one_node[r].first) << aggregator_name(kind) << " round " << r + 1;
      EXPECT_EQ(sha256_hex(state_bytes), one_node[r].second) << aggregator_name(kind) << " round " << r + 1;
    }
    // And the state matters: starting round 3 from a zero state gives another model.
    ModelWeights restarted, ignored;
    ASSERT_TRUE(aggregate_round(settings, base_of_round3, {}, rounds[2], &restarted, &ignored).ok());
    EXPECT_NE(model_id(restarted), one_node[2].first);
  }
}

TEST(ServerOptimizer, AStateThatDoesNotFitTheModelIsNamed) {
  ServerOptimizer adam{ServerRule::kFedAdam};
  ModelWeights next, state;
  Status s = server_step(adam, one(1), one(2), one(0), &next, &state);  // one tensor, Adam needs two
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("has 1 tensors"), std::string::npos) << s.message();
  ModelWeights wrong;
  wrong.parameters.push_back({"m/w", {1}, {0}});
  wrong.parameters.push_back({"v/x", {1}, {0}});
  s = server_step(adam, one(1), one(2), wrong, &next, &state);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'v/w'"), std::string::npos) << s.message();
  s = server_step(adam, one(1), layer(1, 2, 3), {}, &next, &state);
  EXPECT_FALSE(s.ok());

  AggregatorSettings median;
  median.kind = AggregatorKind::kMedian;
  s = aggregate_round(median, one(1), one(0), {{one(2), 1}}, &next, &state);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("keeps no server state"), std::string::npos) << s.message();
  ASSERT_TRUE(aggregate_round(median, one(1), {}, {{one(2), 1}}, &next, &state).ok());
  EXPECT_TRUE(state.parameters.empty());
  EXPECT_FLOAT_EQ(value(next), 2.0f);
}

TEST(ServerOptimizer, NamesParseAndDefaults) {
  for (const char* name : {"fedavgm", "fedadam", "fedyogi"}) {
    auto kind = parse_aggregator(name);
    ASSERT_TRUE(kind) << name;
    EXPECT_TRUE(server_rule(*kind)) << name;
    EXPECT_NE(aggregator_names().find(name), std::string::npos);
  }
  EXPECT_FALSE(server_rule(AggregatorKind::kFedAvg));
  EXPECT_DOUBLE_EQ(default_server_lr(ServerRule::kFedAvgM), 1.0);
  EXPECT_DOUBLE_EQ(default_server_lr(ServerRule::kFedAdam), 0.01);
}

}  // namespace
}  // namespace fednode::fl
