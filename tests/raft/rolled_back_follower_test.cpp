// A follower whose log and hard state were rolled back (its data dir restored from a backup)
// rejects appends at or below what the leader knows it held. Raft assumes a node never loses what
// it acknowledged; a leader that takes such a rejection as fresh news must not answer it at once
// with the same probe (the old rule did: about 49,000 datagrams a second for as long as it
// lasted). It costs at most one probe per heartbeat, and the follower catches up from the leader.
#include <algorithm>

#include "test_cluster.h"

namespace fednode::raft::testing {
namespace {

void daemon_timing(Config& c) {
  c.heartbeat_ticks = 10;
  c.election_ticks_min = 15;
  c.election_ticks_max = 30;
}

int appends_to(const std::vector<Message>& sent, NodeId to) {
  return static_cast<int>(std::count_if(sent.begin(), sent.end(), [&](const Message& m) {
    return m.to == to && m.type == MessageType::kAppend;
  }));
}

TEST(RolledBackFollower, CostsAtMostOneProbePerHeartbeatAndCatchesUp) {
  TestCluster c(3, daemon_timing);
  c.elect(1);
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.node(1).propose("early-" + std::to_string(i)), RequestStatus::kOk);
    c.deliver_all();
  }
  MemoryStorage backup = *c.at(2).storage;  // the operator's copy of node 2's dir
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.node(1).propose("late-" + std::to_string(i)), RequestStatus::kOk);
    c.deliver_all();
  }
  Index last = c.node(1).last_index();
  ASSERT_GT(last, backup.last_index());
  // Node 2 stops, its dir is put back, it starts again.
  *c.at(2).storage = backup;
  c.start(2);
  c.sent().clear();
  int rounds = 0;
  // One tick of the leader, delivering everything: a livelock never goes quiet (deliver_all gives
  // up after 10,000 rounds of messages).
  for (int t = 0; t < 100; ++t) {
    c.node(1).tick();
    rounds = std::max(rounds, c.deliver_all());
  }
  EXPECT_LE(appends_to(c.sent(), 2), 100 / 10 + 4) << "more than one probe per heartbeat (100 ticks, heartbeat 10)";
  EXPECT_LT(rounds, 100) << "a burst of appends and rejections that never went quiet";
  EXPECT_EQ(c.node(2).last_index(), last) << "the rolled-back follower caught up";
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

// Its term and vote rolled back with its log, so it may already have voted in the current term:
// once the leader's heartbeat shows it lacks what it acknowledged, it votes for nobody (and does
// not campaign) until it holds that again, and never again in the term it learned it in.
TEST(RolledBackFollower, VotesForNobodyUntilItHoldsWhatItHadAcknowledged) {
  TestCluster c(3, daemon_timing);
  c.elect(1);
  MemoryStorage backup = *c.at(2).storage;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.node(1).propose("late-" + std::to_string(i)), RequestStatus::kOk);
    c.deliver_all();
  }
  Term term = c.node(1).term();
  *c.at(2).storage = backup;
  c.start(2);
  // Heartbeats reach node 2, appends do not: it learns it lacks entries and cannot catch up.
  auto no_appends_to_2 = [](const Message& m) { return !(m.to == 2 && m.type == MessageType::kAppend); };
  for (int t = 0; t < 10; ++t) {
    c.node(1).tick();
    c.deliver_all(no_appends_to_2);
  }
  ASSERT_GT(c.node(2).rolled_back_until(), c.node(2).last_index());
  // Cut off from the leader, its election timeout passes many times: it does not campaign.
  c.collect();
  for (int t = 0; t < 100; ++t) c.node(2).tick();
  for (const auto& m : c.collect()) {
    EXPECT_FALSE(m.from == 2 && (m.type == MessageType::kVote || m.type == MessageType::kPreVote))
        << "a rolled-back node campaigned";
  }
  // Node 3 asks for its vote in this term, then in the next: not granted (refused, or ignored as
  // inside a lease).
  for (Term t : {term, term + 1}) {
    Message ask;
    ask.type = MessageType::kVote;
    ask.from = 3;
    ask.to = 2;
    ask.term = t;
    ask.index = c.node(3).last_index();
    ask.log_term = *c.node(3).log_term(ask.index);
    c.node(2).step(ask);
    int granted = 0;
    for (const auto& m : c.collect()) {
      if (m.type == MessageType::kVoteResponse && m.from == 2 && m.to == 3) granted += !m.reject;
    }
    EXPECT_EQ(granted, 0) << "a rolled-back node voted in term " << t;
  }
  EXPECT_EQ(c.node(2).role(), Role::kFollower);
}

}  // namespace
}  // namespace fednode::raft::testing
