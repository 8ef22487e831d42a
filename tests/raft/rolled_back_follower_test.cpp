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

}  // namespace
}  // namespace fednode::raft::testing
