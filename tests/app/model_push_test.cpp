#include "fednode/app/round/model_push.h"

#include <gtest/gtest.h>

#include <thread>

#include "../storage/temp_dir.h"
#include "fednode/fl/model_store.h"
#include "fednode/fl/model_weights.h"
#include "fednode/fl/update_codec.h"

namespace fednode {
namespace {

using namespace std::chrono_literals;

// One real data-plane server stands for every peer that answers.
class ModelPushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.init().ok());
    ASSERT_TRUE(server_.listen(PeerAddress{"127.0.0.1", 0}).ok());
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
    plan_.blobs = {{id_, bytes_, nullptr}};
    plan_.timeout = 5s;
    plan_.forget = [](const std::string&) {};
  }
  void TearDown() override {
    asio::post(io_, [this] { server_.close(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  PeerAddress server() const { return PeerAddress{"127.0.0.1", server_.port()}; }
  // The plan goes to one peer, the test's server, and is done once it holds the blobs.
  void to_the_server() {
    plan_.peers = {"a:1"};
    plan_.enough = 1;
    plan_.resolve = [this](const std::string&) -> std::optional<PeerAddress> { return server(); };
  }

  testing::TempDir dir_;
  fl::ModelStore store_{dir_.sub("models")};
  asio::io_context io_;
  net::DataPlaneServer server_{io_, store_, 1 << 20, net::ConnectionLimits{16, 16, 2000ms}};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::shared_ptr<const std::string> bytes_ = std::make_shared<const std::string>(std::string(64 * 1024, 'm'));
  std::string id_ = fl::sha256_hex(*bytes_);
  PushPlan plan_;
};

// A majority holding the model is enough: a voter whose address takes seconds to fail (a peer cut
// off by a partition) does not hold the round until its push times out.
TEST_F(ModelPushTest, ReturnsWhenEnoughHoldItWithoutWaitingForAnUnreachablePeer) {
  plan_.peers = {"a:1", "b:1", "cut-off:1"};
  plan_.enough = 2;
  plan_.resolve = [this](const std::string& peer) -> std::optional<PeerAddress> {
    if (peer == "cut-off:1") {
      std::this_thread::sleep_for(3s);
      return std::nullopt;
    }
    return server();
  };
  auto late = std::make_shared<LateTransferCounters>();
  PushOutcome out = push_to_peers(plan_, late);
  EXPECT_EQ(out.holders.size(), 2u);
  EXPECT_TRUE(out.failures.empty()) << "returned only after the unreachable peer failed: " << out.failures.front();
  EXPECT_TRUE(store_.has(id_));
  EXPECT_GE(out.stats.bytes_out, 2 * bytes_->size());
}

// Bytes of a push that ends after the caller stopped waiting are not lost: they go to `late`.
TEST_F(ModelPushTest, PushesThatEndLateAreCounted) {
  plan_.peers = {"a:1", "slow:1"};
  plan_.enough = 1;
  plan_.resolve = [this](const std::string& peer) -> std::optional<PeerAddress> {
    if (peer == "slow:1") std::this_thread::sleep_for(1s);
    return server();
  };
  auto late = std::make_shared<LateTransferCounters>();
  PushOutcome out = push_to_peers(plan_, late);
  ASSERT_EQ(out.holders, std::vector<std::string>{"a:1"});
  for (int i = 0; i < 100 && late->read().bytes_out == 0; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_GE(late->read().bytes_out, bytes_->size());
  EXPECT_EQ(late->read().messages_out, out.stats.messages_out);
}

// With no peer able to take it, every failure is reported (the caller pushes again).
TEST_F(ModelPushTest, ReportsEveryFailureWhenNoPeerTakesIt) {
  plan_.peers = {"x:1", "y:1"};
  plan_.enough = 1;
  plan_.resolve = [](const std::string&) -> std::optional<PeerAddress> { return std::nullopt; };
  PushOutcome out = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  EXPECT_TRUE(out.holders.empty());
  ASSERT_EQ(out.failures.size(), 2u);
  EXPECT_NE(out.failures[0].find("data port unknown"), std::string::npos);
}

// A model and its server state travel together: a peer counts as a holder once it holds both.
TEST_F(ModelPushTest, EveryBlobOfThePlanIsStoredOnEachHolder) {
  auto state = std::make_shared<const std::string>(std::string(96 * 1024, 's'));
  plan_.blobs.push_back({fl::sha256_hex(*state), state, nullptr});
  to_the_server();
  PushOutcome out = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  ASSERT_EQ(out.holders, std::vector<std::string>{"a:1"});
  EXPECT_TRUE(store_.has(id_));
  EXPECT_TRUE(store_.has(plan_.blobs[1].id));
  EXPECT_GE(out.stats.bytes_out, bytes_->size() + state->size());
}

// The initial model: every peer made it from the seed while preparing, so the push asks first
// (an empty change, which a holder accepts) and sends nothing more; a peer without it gets it.
TEST_F(ModelPushTest, AskingFirstSendsAHolderNothingAndOthersTheModel) {
  to_the_server();
  plan_.ask_first = true;
  plan_.ask_for = 200ms;
  PushOutcome without = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  ASSERT_EQ(without.holders, std::vector<std::string>{"a:1"});
  EXPECT_TRUE(store_.has(id_));
  EXPECT_GE(without.stats.bytes_out, bytes_->size());
  PushOutcome with = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  ASSERT_EQ(with.holders, std::vector<std::string>{"a:1"});
  EXPECT_LT(with.stats.bytes_out, 1024u) << "the model travelled to a peer that held it";
}

// A peer still preparing makes the model a moment later: it is asked again meanwhile, and gets
// nothing more; the model goes only once the asking has lasted `ask_for`.
TEST_F(ModelPushTest, APeerThatMakesTheModelWhileAskedGetsNothingMore) {
  to_the_server();
  plan_.ask_first = true;
  plan_.ask_for = 3s;
  std::thread prepare([this] {
    std::this_thread::sleep_for(400ms);
    std::string stored;
    ASSERT_TRUE(store_.put_bytes(*bytes_, &stored).ok());
  });
  PushOutcome out = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  prepare.join();
  ASSERT_EQ(out.holders, std::vector<std::string>{"a:1"});
  EXPECT_LT(out.stats.bytes_out, bytes_->size() / 4) << "the model travelled while the peer was preparing it";
  store_.remove(id_);
  plan_.ask_for = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  PushOutcome late = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  ASSERT_EQ(late.holders, std::vector<std::string>{"a:1"});
  EXPECT_GE(late.stats.bytes_out, bytes_->size()) << "a peer that never makes it gets the model";
}

// Compressed broadcast over the data plane: a global model that is a base plus an int8 change.
struct DeltaModel {
  fl::ModelWeights base, global;
  std::string base_id, id, delta;
  std::shared_ptr<const std::string> bytes;
};

DeltaModel delta_model() {
  DeltaModel m;
  for (auto* w : {&m.base, &m.global}) {
    w->parameters.push_back({"weight", {64, 256}, std::vector<float>(64 * 256)});
  }
  for (std::size_t i = 0; i < m.base.parameters[0].values.size(); ++i) {
    m.base.parameters[0].values[i] = 0.001f * static_cast<float>(i % 997);
    m.global.parameters[0].values[i] = m.base.parameters[0].values[i] + 0.0001f * static_cast<float>(i % 13);
  }
  m.base_id = fl::model_id(m.base);
  m.delta = fl::encode_update(fl::UpdateEncoding::kInt8, m.base, m.base_id, m.global);
  EXPECT_TRUE(fl::decode_update(m.delta, m.base, m.base_id, &m.global).ok());
  m.bytes = std::make_shared<const std::string>(fl::serialize_weights(m.global));
  m.id = fl::sha256_hex(*m.bytes);
  return m;
}

TEST_F(ModelPushTest, APeerHoldingTheBaseReceivesTheChangeOthersTheModel) {
  DeltaModel m = delta_model();
  plan_.blobs = {{m.id, m.bytes, std::make_shared<const std::string>(m.delta)}};
  to_the_server();
  // Without the base the change is refused and the model follows.
  PushOutcome without = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  ASSERT_EQ(without.holders.size(), 1u);
  EXPECT_TRUE(store_.has(m.id));
  EXPECT_GE(without.stats.bytes_out, m.bytes->size() + m.delta.size());
  store_.remove(m.id);
  std::string stored;
  ASSERT_TRUE(store_.put(m.base, &stored).ok());
  PushOutcome with = push_to_peers(plan_, std::make_shared<LateTransferCounters>());
  ASSERT_EQ(with.holders.size(), 1u);
  std::string held;
  ASSERT_TRUE(store_.get_bytes(m.id, &held).ok());
  EXPECT_EQ(held, *m.bytes);
  EXPECT_LT(with.stats.bytes_out, m.bytes->size() / 3) << "the model travelled, not its int8 change";
}

TEST_F(ModelPushTest, AFetchThatWelcomesAChangeGetsItAndAPlainFetchTheModel) {
  DeltaModel m = delta_model();
  std::string stored;
  ASSERT_TRUE(store_.put(m.global, &stored).ok());
  ASSERT_EQ(stored, m.id);
  std::string data;
  bool is_delta = false;
  ASSERT_TRUE(net::fetch_blob_or_delta(server(), m.id, &data, &is_delta, 5s).ok());
  EXPECT_FALSE(is_delta) << "no change kept yet";
  EXPECT_EQ(data, *m.bytes);
  ASSERT_TRUE(store_.put_delta(m.id, m.delta).ok());
  ASSERT_TRUE(net::fetch_blob_or_delta(server(), m.id, &data, &is_delta, 5s).ok());
  EXPECT_TRUE(is_delta);
  EXPECT_EQ(data, m.delta);
  ASSERT_TRUE(net::fetch_blob(server(), m.id, &data, 5s).ok());
  EXPECT_EQ(data, *m.bytes);
}

}  // namespace
}  // namespace fednode
