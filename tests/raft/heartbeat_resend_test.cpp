// A slow heartbeat with resends (Config::heartbeat_resend_ticks): the daemon's timing, a
// heartbeat every 10 ticks against election timeouts of 15-30, every heartbeat answered, and a
// follower that has not answered one sent it again every 2 ticks.
#include <algorithm>
#include <functional>
#include <map>

#include "test_cluster.h"

namespace fednode::raft::testing {
namespace {

void daemon_timing(Config& c, int resend_ticks) {
  c.heartbeat_ticks = 10;
  c.election_ticks_min = 15;
  c.election_ticks_max = 30;
  c.heartbeat_resend_ticks = resend_ticks;
}

// Ticks every node once and delivers until quiet, through `filter`.
void tick_all(TestCluster& c, const std::function<bool(const Message&)>& filter) {
  for (auto& [id, n] : c.nodes()) n.node->tick();
  c.deliver_all(filter);
}

struct Counts {
  int beats = 0, answers = 0;
};

Counts counts_for(const std::vector<Message>& sent, NodeId follower) {
  Counts k;
  for (const auto& m : sent) {
    k.beats += m.type == MessageType::kHeartbeat && m.to == follower;
    k.answers += m.type == MessageType::kHeartbeatResponse && m.from == follower;
  }
  return k;
}

// On a link that loses nothing, a follower hears one heartbeat per period and answers each: no
// resend, and check-quorum keeps the leader.
TEST(HeartbeatResend, AQuietLinkCarriesOneHeartbeatAndOneAnswerPerPeriod) {
  TestCluster c(3, [](Config& cfg) { daemon_timing(cfg, 2); });
  c.elect(1);
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  Term term = c.node(1).term();
  c.sent().clear();
  c.tick_all(2000);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), term);
  for (NodeId f : {2, 3}) {
    Counts k = counts_for(c.sent(), f);
    EXPECT_EQ(k.beats, 200) << "follower " << f;
    EXPECT_EQ(k.answers, 200) << "follower " << f;
  }
}

// The first heartbeat after each answer is lost (twice in a row, in the second run): the resends
// reach the follower inside the shortest election timeout, so it never campaigns and the leader
// never loses its quorum. Without resends the same losses leave it longer than that unheard.
TEST(HeartbeatResend, AFollowerLosingHeartbeatsGetsThemAgainBeforeItsTimeout) {
  for (int lost_in_a_row : {1, 2}) {
    for (int resend : {2, 0}) {
      SCOPED_TRACE("lost in a row " + std::to_string(lost_in_a_row) + ", resend ticks " + std::to_string(resend));
      TestCluster c(3, [resend](Config& cfg) { daemon_timing(cfg, resend); });
      c.elect(1);
      ASSERT_EQ(c.node(1).role(), Role::kLeader);
      Term term = c.node(1).term();
      int lost = 0, dropped = 0, now = 0, last_heard = 0, longest_unheard = 0;
      bool campaigned = false;
      auto lossy = [&](const Message& m) {
        campaigned |= m.from == 3 && (m.type == MessageType::kPreVote || m.type == MessageType::kVote);
        if (m.from == 3) lost = 0;  // it answered: the next heartbeats to it are lost again
        if (m.type != MessageType::kHeartbeat || m.to != 3) return true;
        if (lost >= lost_in_a_row) {
          longest_unheard = std::max(longest_unheard, now - last_heard);
          last_heard = now;
          return true;
        }
        ++lost;
        ++dropped;
        return false;
      };
      for (now = 1; now <= 2000 && !campaigned; ++now) {
        tick_all(c, lossy);
        campaigned |= c.node(3).role() != Role::kFollower || c.node(3).term() != term;
      }
      if (resend > 0) {
        EXPECT_FALSE(campaigned);
        EXPECT_LT(longest_unheard, 15);
        EXPECT_EQ(c.node(1).role(), Role::kLeader);
        EXPECT_EQ(c.node(1).term(), term);
        EXPECT_GE(dropped, 190 * lost_in_a_row) << "the losses did not happen: the test has no teeth";
        // Each lost heartbeat is sent once more; the last period's may still be due.
        Counts k = counts_for(c.sent(), 3);
        EXPECT_NEAR(k.beats, 200 + dropped, lost_in_a_row);
        EXPECT_NEAR(k.answers, 200, 1);
      } else {
        EXPECT_TRUE(campaigned || longest_unheard >= 10 * (lost_in_a_row + 1))
            << "without resends the losses should leave gaps: the test has no teeth";
      }
    }
  }
}

// A follower that has just answered an append does not answer a heartbeat arriving in the same
// tick (the commit notice that follows the append): the leader heard from it since the tick
// before, so it resends nothing, and the next periodic heartbeat is answered.
TEST(HeartbeatResend, ACommitNoticeRightAfterAnAppendIsNeitherAnsweredNorResent) {
  TestCluster c(3, [](Config& cfg) { daemon_timing(cfg, 2); });
  c.elect(1);
  c.tick_all(3);
  c.sent().clear();
  ASSERT_EQ(c.node(1).propose("x"), RequestStatus::kOk);
  c.deliver_all();
  ASSERT_EQ(applied_data(c.at(2)), std::vector<std::string>{"x"});
  int notices = 0;
  for (const auto& m : c.sent()) notices += m.type == MessageType::kHeartbeat && m.to == 2;
  EXPECT_EQ(notices, 1) << "the commit should reach follower 2 in a heartbeat";
  EXPECT_EQ(counts_for(c.sent(), 2).answers, 0);
  c.sent().clear();
  c.tick_all(6);
  EXPECT_EQ(counts_for(c.sent(), 2).beats, 0) << "a heartbeat was resent to a follower that had answered the append";
  c.tick_all(4);
  Counts k = counts_for(c.sent(), 2);
  EXPECT_EQ(k.beats, 1);
  EXPECT_EQ(k.answers, 1);
}

// Resends stop at the next periodic heartbeat; a follower cut off gets one heartbeat every
// resend interval, not a storm.
TEST(HeartbeatResend, AnUnreachableFollowerGetsAHeartbeatEveryResendIntervalAtMost) {
  TestCluster c(5, [](Config& cfg) { daemon_timing(cfg, 2); });
  c.elect(1);
  c.isolate(5);
  c.tick_all(10);  // to the first heartbeat: nothing was unanswered before it
  c.sent().clear();
  c.tick_all(100);
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  int to_five = 0;
  for (const auto& m : c.sent()) to_five += m.from == 1 && m.to == 5;
  EXPECT_EQ(to_five, 50) << "one every 2 ticks over 100 ticks";
  EXPECT_EQ(counts_for(c.sent(), 2).beats, 10);
}

// An isolated leader steps down after as many ticks as with a heartbeat every 5 ticks and no
// resends: the check-quorum window is the election timeout's minimum either way. (A follower's
// detection of a dead leader is its election timeout from the last heartbeat heard, unchanged
// too; bench/fl-failover.py measures it end to end.)
TEST(HeartbeatResend, AnIsolatedLeaderStepsDownAsSoonAsWithTheFastHeartbeat) {
  std::map<int, int> ticks_to_step_down;
  for (int hb : {5, 10}) {
    TestCluster c(3, [hb](Config& cfg) {
      daemon_timing(cfg, hb == 10 ? 2 : 0);
      cfg.heartbeat_ticks = hb;
    });
    c.elect(1);
    ASSERT_EQ(c.node(1).role(), Role::kLeader);
    c.tick_all(40);
    c.isolate(1);
    int t = 0;
    while (c.node(1).role() == Role::kLeader && t < 100) c.tick_all(1), ++t;
    ticks_to_step_down[hb] = t;
  }
  EXPECT_LE(ticks_to_step_down[10], 30);
  EXPECT_EQ(ticks_to_step_down[10], ticks_to_step_down[5]);
}

}  // namespace
}  // namespace fednode::raft::testing
