// Rule-by-rule tests of the Raft core, named after the section of the Raft paper (Ongaro and
// Ousterhout 2014) or of Ongaro's thesis (2014) whose rule they check.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_cluster.h"

namespace fednode::raft {
namespace {

using testing::TestCluster;
using testing::applied_data;

int count(const std::vector<Message>& msgs, MessageType type) {
  return static_cast<int>(std::count_if(msgs.begin(), msgs.end(), [&](const Message& m) { return m.type == type; }));
}

// §5.2: election timeouts are chosen randomly from a fixed interval.
TEST(Paper5_2, ElectionTimeoutIsRandomisedWithinBounds) {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    TestCluster c(3, [&](Config& cfg) { cfg.random_seed = seed; });
    int ticks = 0;
    while (c.node(1).role() == Role::kFollower && ticks < 100) {
      c.node(1).tick();
      ++ticks;
    }
    EXPECT_GE(ticks, 10);
    EXPECT_LT(ticks, 20);
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), 3u) << "timeouts are not randomised";
}

// §5.2: a candidate that receives votes from a majority becomes leader.
TEST(Paper5_2, CandidateWithMajorityBecomesLeader) {
  TestCluster c(3);
  c.elect(1);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).leader(), 1u);
  EXPECT_EQ(c.node(3).leader(), 1u);
  EXPECT_EQ(c.node(1).term(), 2u);
}

// §5.2: without a majority a candidate does not win.
TEST(Paper5_2, CandidateWithoutMajorityDoesNotWin) {
  TestCluster c(5, [](Config& cfg) { cfg.pre_vote = false; });
  c.isolate(1);
  c.isolate(2);
  c.heal();
  c.isolate(4);
  c.isolate(5);
  c.isolate(3);  // 1 and 2 can talk, nobody else: 2 of 5 votes at most
  c.heal();
  // Rebuild: cut 1 from 3, 4, 5 only.
  c.deliver_all();
  c.node(1).campaign();
  c.deliver_all([](const Message& m) { return !(m.from == 1 && m.to > 2) && !(m.to == 1 && m.from > 2); });
  EXPECT_NE(c.node(1).role(), Role::kLeader);
}

// §5.2: each server votes for at most one candidate in a given term.
TEST(Paper5_2, FollowerVotesAtMostOncePerTerm) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  Message vote;
  vote.type = MessageType::kVote;
  vote.term = 5;
  vote.index = 10;
  vote.log_term = 1;
  vote.from = 2;
  vote.to = 1;
  c.node(1).step(vote);
  vote.from = 3;
  c.node(1).step(vote);
  auto msgs = c.collect();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_FALSE(msgs[0].reject);
  EXPECT_EQ(msgs[0].to, 2u);
  EXPECT_TRUE(msgs[1].reject);
  EXPECT_EQ(c.at(1).storage->hard_state().vote, 2u) << "the vote must be persisted";
}

// §5.4.1: a voter denies its vote if its own log is more up to date than the candidate's.
TEST(Paper5_4_1, VoterRejectsCandidateWithStaleLog) {
  // No lease, so the vote request is considered at all (the lease has its own test).
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.elect(1);
  ASSERT_EQ(c.node(1).propose("x"), RequestStatus::kOk);
  c.deliver_all();  // everyone has (term 2) entries up to 5
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = 3;
  vote.to = 2;
  vote.term = 9;
  vote.index = 3;  // a shorter log
  vote.log_term = 1;
  c.node(2).step(vote);
  auto msgs = c.collect();
  ASSERT_EQ(count(msgs, MessageType::kVoteResponse), 1);
  EXPECT_TRUE(msgs.back().reject);
}

// §5.3: the leader replicates entries; once a majority stores them they are committed and
// applied everywhere.
TEST(Paper5_3, LeaderReplicatesAndCommitsEntries) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_EQ(c.node(1).propose("a"), RequestStatus::kOk);
  ASSERT_EQ(c.node(1).propose("b"), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(2);  // heartbeats carry the new commit index
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(applied_data(c.at(id)), (std::vector<std::string>{"a", "b"})) << id;
  }
}

// Thesis §10.2.1 (async_leader_persist): a leader writing in the background counts its own copy
// towards a commit only once the driver reports it durable, and only the entry it wrote.
TEST(AsyncLeaderPersist, TheLeadersCopyCountsOnlyOnceReportedDurable) {
  TestCluster c(3, [](Config& cfg) { cfg.async_leader_persist = true; });
  c.elect(1);
  ASSERT_EQ(c.node(1).propose("a"), RequestStatus::kOk);
  Node& leader = c.node(1);
  ASSERT_TRUE(leader.has_ready());
  Ready rd = leader.ready();
  ASSERT_TRUE(rd.persist_async);
  ASSERT_FALSE(rd.entries.empty());
  c.at(1).storage->append(rd.entries);  // written, not yet durable
  leader.advance(rd);
  Index a = rd.entries.back().index;
  Term term = rd.entries.back().term;
  // Node 2 stores it: with the leader's unreported copy that would be a majority.
  c.isolate(3);
  for (const auto& m : rd.messages) {
    if (m.to == 2) c.node(2).step(m);
  }
  c.deliver_all();
  EXPECT_GE(c.node(2).last_index(), a);
  EXPECT_LT(leader.commit_index(), a) << "committed on one durable copy of three";
  leader.persisted(a, term + 1);  // not what was written there: ignored
  c.deliver_all();
  EXPECT_LT(leader.commit_index(), a);
  leader.persisted(a, term);
  c.deliver_all();
  EXPECT_EQ(leader.commit_index(), a);
  EXPECT_EQ(applied_data(c.at(1)), (std::vector<std::string>{"a"}));
}

// The application may propose while it applies a Ready's entries (the round controller does):
// that entry was not part of the Ready just persisted and must not count as on disk with it.
TEST(AsyncLeaderPersist, AnEntryProposedWhileAReadyIsHandledIsNotCountedWithIt) {
  TestCluster c(1, [](Config& cfg) { cfg.async_leader_persist = true; });
  Node& n = c.node(1);
  n.campaign();  // alone: leader at once, in a new term
  ASSERT_EQ(n.role(), Role::kLeader);
  Ready rd = n.ready();
  ASSERT_FALSE(rd.persist_async);  // the new term is written first: a synchronous persist
  ASSERT_FALSE(rd.entries.empty());
  c.at(1).storage->append(rd.entries);
  c.at(1).storage->set_hard_state(*rd.hard_state);
  ASSERT_EQ(n.propose("x"), RequestStatus::kOk);  // as if from inside the Ready's handling
  Index x = n.last_index();
  Term term = n.term();
  n.advance(rd);
  EXPECT_EQ(n.commit_index(), rd.entries.back().index);  // the no-op: on the only disk
  EXPECT_LT(n.commit_index(), x) << "committed an entry that is on no disk";
  n.persisted(x, term);
  EXPECT_EQ(n.commit_index(), x);
}

// A synchronous persist (every Ready of a follower) is durable once handled: a follower that
// takes over counts what it stored then, and commits with one other copy.
TEST(AsyncLeaderPersist, ANewLeaderCountsWhatItStoredAsAFollower) {
  TestCluster c(3, [](Config& cfg) { cfg.async_leader_persist = true; });
  c.elect(1);
  ASSERT_EQ(c.node(1).propose("a"), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(2);
  for (NodeId id : {1, 2, 3}) EXPECT_EQ(applied_data(c.at(id)), (std::vector<std::string>{"a"})) << id;
  ASSERT_EQ(c.node(1).transfer_leadership(2), RequestStatus::kOk);
  c.deliver_all();
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  c.isolate(1);
  ASSERT_EQ(c.node(2).propose("b"), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(2);
  for (NodeId id : {2, 3}) EXPECT_EQ(applied_data(c.at(id)), (std::vector<std::string>{"a", "b"})) << id;
}

// §5.3: once an entry commits, a follower holding it learns the commit index from a heartbeat,
// which it does not answer (it has just answered the append); a follower that does not hold it
// yet gets an append. Every node applies the entry without another tick.
TEST(Paper5_3, TheCommitReachesFollowersHoldingTheEntryInAHeartbeatLeftUnanswered) {
  TestCluster c(3, [](Config& cfg) { cfg.heartbeat_ticks = 3; });  // with 10-20 ticks: sparse answers
  c.elect(1);
  c.tick_all(1);
  ASSERT_EQ(c.node(1).propose("a"), RequestStatus::kOk);
  c.sent().clear();
  c.deliver_all();
  int heartbeats = 0, answers = 0, empty_appends = 0, append_answers = 0;
  for (const auto& m : c.sent()) {
    heartbeats += m.type == MessageType::kHeartbeat;
    append_answers += m.type == MessageType::kAppendResponse;
    answers += m.type == MessageType::kHeartbeatResponse;
    empty_appends += m.type == MessageType::kAppend && m.entries.empty();
  }
  EXPECT_EQ(heartbeats, 2);  // one per follower, carrying the commit
  EXPECT_EQ(answers, 0);
  EXPECT_EQ(empty_appends, 0);
  EXPECT_EQ(append_answers, 2);  // the entry's, one per follower: the commit costs no answer
  for (NodeId id : {1, 2, 3}) EXPECT_EQ(applied_data(c.at(id)), (std::vector<std::string>{"a"})) << id;

  // Node 3 misses "b"; it commits on nodes 1 and 2. Node 3 gets "b" with the commit in an append.
  c.isolate(3);
  ASSERT_EQ(c.node(1).propose("b"), RequestStatus::kOk);
  c.deliver_all();
  c.heal();
  c.sent().clear();
  ASSERT_EQ(c.node(1).propose("c"), RequestStatus::kOk);
  c.deliver_all();
  for (const auto& m : c.sent()) {
    if (m.to == 3 && m.type == MessageType::kHeartbeat) {
      EXPECT_LE(m.commit, c.node(3).last_index());
    }
  }
  for (NodeId id : {1, 2, 3}) EXPECT_EQ(applied_data(c.at(id)), (std::vector<std::string>{"a", "b", "c"})) << id;
}

// §5.3: a follower rejects an append whose previous entry it does not hold, and the leader's
// nextIndex backs up using the conflict hint instead of one entry per round trip.
TEST(Paper5_3, FastBacktrackingSkipsConflictingTerm) {
  TestCluster c(3, [](Config& cfg) { cfg.max_message_bytes = 40; });
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 30; ++i) c.node(1).propose(std::string("x").append(std::to_string(i)));
  c.deliver_all();
  c.heal();
  c.sent().clear();
  c.tick_all(40);
  EXPECT_EQ(c.node(3).last_index(), c.node(1).last_index());
  int rejects = 0;
  for (const auto& m : c.sent()) rejects += m.type == MessageType::kAppendResponse && m.reject && m.from == 3;
  EXPECT_LE(rejects, 2) << "backtracking one entry at a time";
}

// §5.3 (etcd's flow control): appends to a follower are bounded by the byte budget, and no more
// than max_inflight_appends are outstanding.
TEST(Paper5_3, AppendsRespectByteBudgetAndInflightWindow) {
  TestCluster c(3, [](Config& cfg) {
    cfg.max_message_bytes = 100;
    cfg.max_inflight_appends = 3;
  });
  c.elect(1);
  c.deliver_all();
  for (int i = 0; i < 50; ++i) c.node(1).propose(std::string(30, 'a' + i % 26));
  auto msgs = c.collect();  // nothing delivered: nothing acknowledged
  int appends_to_2 = 0;
  for (const auto& m : msgs) {
    if (m.type != MessageType::kAppend) continue;
    std::size_t bytes = 0;
    for (const auto& e : m.entries) bytes += entry_size(e);
    EXPECT_TRUE(m.entries.size() <= 1 || bytes <= 100) << bytes;
    appends_to_2 += m.to == 2 && !m.entries.empty();
  }
  EXPECT_LE(appends_to_2, 3);
}

// §5.4.2: a leader never commits an entry of a previous term by counting replicas; it commits
// it indirectly, with an entry of its own term (and §8: it appends a no-op on election).
// Returns the leader's commit index once followers hold the old entry but not the no-op,
// and the old entry's index.
std::pair<Index, Index> commit_with_only_old_entry_replicated(bool inject_bug, TestCluster** out) {
  static std::unique_ptr<TestCluster> holder;
  holder = std::make_unique<TestCluster>(3, [inject_bug](Config& cfg) {
    cfg.max_message_bytes = 1;  // one entry per append
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    cfg.bugs.commit_previous_term_by_counting = inject_bug;
  });
  TestCluster& c = *holder;
  *out = holder.get();
  c.elect(1);
  c.isolate(1);
  EXPECT_EQ(c.node(1).propose("old"), RequestStatus::kOk);  // term 2, index 5, only on node 1
  c.collect();
  c.heal();
  Index old_index = c.node(1).last_index();
  // Node 1 learns of a newer term, steps down, and wins the next election (its log is the most
  // up to date).
  Message newer;
  newer.type = MessageType::kAppendResponse;
  newer.from = 2;
  newer.to = 1;
  newer.term = c.node(1).term() + 1;
  c.node(1).step(newer);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  c.node(1).campaign();
  // Deliver, but hold back every append that would give a follower the new no-op, to see
  // what counting replicas of the old entry alone does. (Appends the follower must reject
  // pass: that is how the leader learns to send the old entry.)
  c.deliver_all([&](const Message& m) {
    if (m.type != MessageType::kAppend || c.node(m.to).last_index() < m.index) return true;
    for (const auto& e : m.entries) {
      if (e.term == c.node(1).term()) return false;
    }
    return true;
  });
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_GE(c.node(2).last_index(), old_index);  // followers store the old entry
  return {c.node(1).commit_index(), old_index};
}

TEST(Paper5_4_2, LeaderCommitsPreviousTermEntryOnlyThroughItsOwnTerm) {
  TestCluster* cluster = nullptr;
  auto [commit, old_index] = commit_with_only_old_entry_replicated(false, &cluster);
  TestCluster& c = *cluster;
  // A majority stores the old entry, but it is not committed: its term is not the leader's.
  EXPECT_LT(commit, old_index);
  c.deliver_all();
  c.tick_all(2);
  EXPECT_GE(c.node(1).commit_index(), old_index + 1);
  EXPECT_EQ(applied_data(c.at(2)), (std::vector<std::string>{"old"}));
}

// The scenario above has teeth: with the injected bug the old entry is committed early.
TEST(Paper5_4_2, ScenarioCatchesCommitByCountingInjectedBug) {
  TestCluster* cluster = nullptr;
  auto [commit, old_index] = commit_with_only_old_entry_replicated(true, &cluster);
  EXPECT_GE(commit, old_index);
}

// §8: a new leader appends a no-op entry of its term.
TEST(Paper8, NewLeaderAppendsNoop) {
  TestCluster c(3);
  Index before = c.node(1).last_index();
  c.elect(1);
  ASSERT_EQ(c.node(1).last_index(), before + 1);
  auto e = c.node(1).log_entries(before + 1, before + 2);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].data.empty());
  EXPECT_EQ(e[0].term, c.node(1).term());
}

// Thesis §9.6: pre-vote: a partitioned node does not increase its term, and on its return it
// does not depose the leader.
TEST(Thesis9_6, PreVoteKeepsPartitionedNodeFromDisruptingLeader) {
  TestCluster c(3);
  c.elect(1);
  Term term = c.node(1).term();
  c.isolate(3);
  for (int i = 0; i < 100; ++i) c.tick_all();
  EXPECT_EQ(c.node(3).term(), term) << "pre-vote must not bump the term";
  c.heal();
  c.tick_all(30);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), term);
}

// Split votes: when the leader of four dies, the three others must all vote for one of them.
// Here every election timeout is exactly 10 ticks, so the three run out in the same tick: each
// pre-campaigns at once. The better log, then the lower id, goes on, and the others grant it and
// step back, so one election in one term decides. Without the tie-break they grant each other,
// all campaign, each votes for itself, and (with these timeouts) no one ever wins.
TEST(Thesis9_6, SimultaneousPreCandidatesElectOneLeaderInOneTerm) {
  for (bool tie_break : {true, false}) {
    TestCluster c(4, [&](Config& cfg) {
      cfg.election_ticks_min = 10;
      cfg.election_ticks_max = 11;
      cfg.bugs.no_pre_vote_tie_break = !tie_break;
    });
    c.elect(1);
    c.tick_all(3);
    Term term = c.node(1).term();
    c.isolate(1);
    NodeId leader = kNoNode;
    int ticks = 0;
    for (; ticks < 100 && leader == kNoNode; ++ticks) {
      c.tick_all();
      for (NodeId id : {2, 3, 4}) {
        if (c.node(id).role() == Role::kLeader) leader = id;
      }
    }
    if (tie_break) {
      EXPECT_EQ(leader, NodeId(2)) << "the lowest id among equal logs";
      EXPECT_EQ(c.node(2).term(), term + 1) << "more than one election";
      EXPECT_LE(ticks, 12);
    } else {
      EXPECT_EQ(leader, kNoNode) << "the test has no teeth: simultaneous candidates agreed without the tie-break";
    }
  }
}

// The pre-candidate with the lower id may have been ignored by the others while they still
// heard the old leader (the lease): when they campaign in turn, it refuses them and asks them
// again, they grant it and step back, and it wins without another timeout.
TEST(Thesis9_6, APreCandidateIgnoredDuringTheLeaseAsksAgain) {
  TestCluster c(4, [](Config& cfg) {
    cfg.election_ticks_min = 10;
    cfg.election_ticks_max = 11;
  });
  c.elect(1);
  c.tick_all(3);
  Term term = c.node(1).term();
  c.isolate(1);
  c.tick_node(3, 9);
  c.tick_node(4, 5);
  c.tick_node(2, 10);  // 2 pre-campaigns; 3 and 4 are still in the lease and ignore it
  ASSERT_EQ(c.node(2).role(), Role::kPreCandidate);
  c.tick_node(3, 1);  // 3 pre-campaigns: 2 refuses and asks again; 3 grants and steps back
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  c.tick_node(4, 5);  // and 4 likewise: 2 has all three
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).term(), term + 1);
}

// A voter that ignored a pre-vote in its lease answers it when the lease ends without news from
// the leader. The nodes' ticks are not in phase, so the first timer to run out (at the minimum
// timeout) finds the others a tick short of the end of their lease; the pre-candidate has its
// answers a tick later, not when their own timers run out (here 10 ticks on).
TEST(Thesis4_2_3, APreVoteIgnoredInTheLeaseIsAnsweredWhenItEnds) {
  TestCluster c(4, [](Config& cfg) {
    cfg.election_ticks_min = 10;
    cfg.election_ticks_max = cfg.id == 2 ? 11 : 30;
    cfg.random_seed = 7;
  });
  c.elect(1);
  c.tick_all(3);
  Term term = c.node(1).term();
  c.isolate(1);
  c.tick_node(3, 9);
  c.tick_node(4, 9);
  c.tick_node(2, 10);  // 2's timer runs out first: 3 and 4 are a tick short of the end of their lease
  ASSERT_EQ(c.node(2).role(), Role::kPreCandidate);
  c.tick_node(3, 1);
  EXPECT_EQ(c.node(3).role(), Role::kFollower) << "3's own timer ran out: the test has no teeth";
  c.tick_node(4, 1);
  EXPECT_EQ(c.node(4).role(), Role::kFollower) << "4's own timer ran out: the test has no teeth";
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).term(), term + 1);
}

// But a voter that hears the leader again drops the pre-vote it kept: the leader lives.
TEST(Thesis4_2_3, AKeptPreVoteIsDroppedWhenTheLeaderIsHeard) {
  TestCluster c(3, [](Config& cfg) {
    cfg.election_ticks_min = 10;
    cfg.election_ticks_max = 30;
    cfg.heartbeat_ticks = 3;
  });
  c.elect(1);
  c.tick_all(3);
  Message pre_vote;
  pre_vote.type = MessageType::kPreVote;
  pre_vote.from = 3;
  pre_vote.to = 2;
  pre_vote.term = c.node(2).term() + 1;
  pre_vote.index = c.node(2).last_index();
  pre_vote.log_term = c.node(2).term();
  c.node(2).step(pre_vote);
  EXPECT_EQ(count(c.collect(), MessageType::kPreVoteResponse), 0) << "answered in the lease";
  int answers = 0;
  for (int i = 0; i < 40; ++i) {  // the leader keeps beating; 2's lease never ends
    c.node(1).tick();
    c.node(2).tick();
    for (const Message& m : c.collect()) {
      if (m.type == MessageType::kPreVoteResponse) ++answers;
      if (m.to != 3 && m.from != 3) c.node(m.to).step(m);
    }
  }
  EXPECT_EQ(answers, 0);
  c.isolate(1);
  for (int i = 0; i < 12; ++i) c.node(2).tick();
  EXPECT_EQ(count(c.collect(), MessageType::kPreVoteResponse), 0) << "a stale pre-vote answered";
}

// Thesis §6.2: check-quorum: a leader that cannot hear from a majority for an election timeout
// steps down.
TEST(Thesis6_2, LeaderWithoutQuorumStepsDown) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(1);
  for (int i = 0; i < 25; ++i) c.tick_all();
  EXPECT_NE(c.node(1).role(), Role::kLeader);
}

// Followers answer every other heartbeat (half the datagrams on an idle channel), yet the
// leader's check-quorum hears every live follower in every window: over 2,000 ticks with the
// daemon's timing (heartbeat 5 ticks, election 15-30) the leader never steps down, each window
// has an answer from each follower, and a read index (a heartbeat with a context) is answered
// at once. Where a window could miss an answer (heartbeat 6, election 15) every beat is answered.
TEST(Thesis6_2, FollowersAnswerEveryOtherHeartbeatWithoutLosingTheQuorum) {
  for (int hb : {5, 6}) {
    SCOPED_TRACE("heartbeat ticks " + std::to_string(hb));
    TestCluster c(3, [hb](Config& cfg) {
      cfg.heartbeat_ticks = hb;
      cfg.election_ticks_min = 15;
      cfg.election_ticks_max = 30;
    });
    c.elect(1);
    ASSERT_EQ(c.node(1).role(), Role::kLeader);
    Term term = c.node(1).term();
    c.sent().clear();
    std::map<NodeId, int> last_answer;
    int worst_gap = 0;
    for (int t = 0; t < 2000; ++t) {
      std::size_t before = c.sent().size();
      c.tick_all();
      for (std::size_t i = before; i < c.sent().size(); ++i) {
        const Message& m = c.sent()[i];
        if (m.type != MessageType::kHeartbeatResponse) continue;
        worst_gap = std::max(worst_gap, t - (last_answer.count(m.from) ? last_answer[m.from] : 0));
        last_answer[m.from] = t;
      }
    }
    EXPECT_EQ(c.node(1).role(), Role::kLeader);
    EXPECT_EQ(c.node(1).term(), term);
    int beats = 0, answers = 0;
    for (const auto& m : c.sent()) {
      beats += m.type == MessageType::kHeartbeat && m.to == 2;
      answers += m.type == MessageType::kHeartbeatResponse && m.from == 2;
    }
    EXPECT_GE(beats, 2000 / hb - 1);
    if (hb == 5) {
      EXPECT_NEAR(answers, beats / 2, 2) << "not every other heartbeat";
      EXPECT_EQ(worst_gap, 2 * hb) << "an answer was skipped twice in a row";
    } else {
      EXPECT_EQ(answers, beats);
    }
    c.sent().clear();
    c.node(1).read_index(77);
    c.deliver_all();
    int read_answers = 0;
    for (const auto& m : c.sent()) read_answers += m.type == MessageType::kHeartbeatResponse && m.context != 0;
    EXPECT_EQ(read_answers, 2);
    ASSERT_FALSE(c.at(1).reads.empty());
    EXPECT_EQ(c.at(1).reads.back().request_id, 77u);
  }
}

// The leader's activity marks restart every check-quorum period for learners too (they do not
// count towards the quorum): a learner that stops answering shows as inactive, one that answers
// as active. The FL layer's live trainers and --evict-after read these marks.
TEST(Thesis6_2, ALearnerThatFallsSilentShowsAsInactive) {
  TestCluster c(3);
  c.elect(1);
  c.add_empty(4);
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddLearner, 4, "h4:1"}), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(3);
  auto active = [&](NodeId id) {
    for (const auto& f : c.node(1).followers()) {
      if (f.id == id) return f.recent_active;
    }
    ADD_FAILURE() << id << " is not a follower";
    return false;
  };
  c.tick_all(25);
  EXPECT_TRUE(active(4));
  c.isolate(4);
  c.tick_all(25);
  EXPECT_FALSE(active(4)) << "a dead learner looked alive";
  EXPECT_TRUE(active(2));
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  c.heal();
  c.tick_all(3);
  EXPECT_TRUE(active(4));
}

// Thesis §4.2.3: a server that heard from a leader within the minimum election timeout ignores
// vote requests (the lease), so a removed or confused server cannot depose a healthy leader.
TEST(Thesis4_2_3, VoteRequestsIgnoredWithinLease) {
  TestCluster c(3);
  c.elect(1);
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = 3;
  vote.to = 2;
  vote.term = c.node(2).term() + 5;
  vote.index = 100;
  vote.log_term = 100;
  c.node(2).step(vote);
  EXPECT_EQ(c.node(2).term(), c.node(1).term());
  EXPECT_EQ(count(c.collect(), MessageType::kVoteResponse), 0);
}

// §6.4: ReadIndex: the leader answers a read only after a heartbeat round confirms it still
// leads; an isolated leader never answers.
TEST(Paper6_4, ReadIndexWaitsForQuorumConfirmation) {
  TestCluster c(3);
  c.elect(1);
  c.node(1).propose("v");
  c.deliver_all();
  ASSERT_EQ(c.node(1).read_index(7), RequestStatus::kOk);
  c.collect();  // heartbeats sent but not delivered
  EXPECT_TRUE(c.at(1).reads.empty());
  c.node(1).read_index(8);
  c.deliver_all();
  // The second round confirms leadership for both reads, in order.
  ASSERT_EQ(c.at(1).reads.size(), 2u);
  EXPECT_EQ(c.at(1).reads[0].request_id, 7u);
  EXPECT_EQ(c.at(1).reads[1].request_id, 8u);
  EXPECT_EQ(c.at(1).reads[1].index, c.node(1).commit_index());
  c.isolate(1);
  c.node(1).read_index(9);
  c.deliver_all();
  EXPECT_EQ(c.at(1).reads.size(), 2u) << "an isolated leader answered a read";
  EXPECT_EQ(c.node(2).read_index(10), RequestStatus::kNotLeader);
}

// Thesis §3.10: leadership transfer: the leader brings the target up to date and sends it
// TimeoutNow; the target wins at once.
TEST(Thesis3_10, LeadershipTransferToUpToDateFollower) {
  TestCluster c(3);
  c.elect(1);
  c.node(1).propose("a");
  c.deliver_all();
  ASSERT_EQ(c.node(1).transfer_leadership(3), RequestStatus::kOk);
  EXPECT_EQ(c.node(1).propose("b"), RequestStatus::kTransferInProgress);
  c.deliver_all();
  EXPECT_EQ(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).leader(), 3u);
  EXPECT_EQ(c.node(2).transfer_leadership(1), RequestStatus::kNotLeader);
  // The new leader knows who handed it the term (the round machine waits for that one); a term
  // won in an election was handed over by nobody.
  EXPECT_EQ(c.node(3).handed_over_by(), 1u);
  EXPECT_EQ(c.node(1).handed_over_by(), 0u);
  c.isolate(3);
  for (int i = 0; i < 100 && c.node(1).role() != Role::kLeader && c.node(2).role() != Role::kLeader; ++i) c.tick_all();
  NodeId elected = c.node(1).role() == Role::kLeader ? 1 : 2;
  ASSERT_EQ(c.node(elected).role(), Role::kLeader);
  EXPECT_EQ(c.node(elected).handed_over_by(), 0u);
  c.heal();
  c.tick_all(3);
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  EXPECT_EQ(c.node(3).handed_over_by(), 0u) << "kept across a term it did not lead";
}

// Thesis §4.1-4.2: one server at a time; learners get the log but do not vote; promotion.
TEST(Thesis4, SingleServerChangesWithLearners) {
  TestCluster c(3);
  c.elect(1);
  c.add_empty(4);
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddLearner, 4, "h4:1"}), RequestStatus::kOk);
  EXPECT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddVoter, 4, ""}),
            RequestStatus::kConfChangePending);
  c.deliver_all();
  c.tick_all(3);
  EXPECT_EQ(c.node(1).conf_state().learners, std::vector<NodeId>{4});
  c.node(1).propose("after-learner");
  c.deliver_all();
  c.tick_all(2);
  EXPECT_EQ(applied_data(c.at(4)), std::vector<std::string>{"after-learner"});
  EXPECT_FALSE(c.node(4).is_voter(4));
  // A learner never campaigns.
  for (int i = 0; i < 50; ++i) c.node(4).tick();
  EXPECT_EQ(c.node(4).role(), Role::kFollower);
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddVoter, 4, ""}), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(2);
  EXPECT_EQ(c.node(2).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kRemove, 2, ""}), RequestStatus::kOk);
  c.deliver_all();
  c.tick_all(2);
  EXPECT_EQ(c.node(1).conf_state().voters, (std::vector<NodeId>{1, 3, 4}));
  EXPECT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddVoter, 3, ""}),
            RequestStatus::kInvalidConfChange);
}

// Thesis §4.2.2: a leader removed from the configuration steps down once the change commits.
TEST(Thesis4_2_2, RemovedLeaderStepsDown) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kRemove, 1, ""}), RequestStatus::kOk);
  c.deliver_all();
  EXPECT_NE(c.node(1).role(), Role::kLeader);
  for (int i = 0; i < 40; ++i) c.tick_all();
  NodeId leader = c.node(2).leader();
  EXPECT_TRUE(leader == 2 || leader == 3);
}

// §7: when the entries a follower needs were compacted, the leader streams its snapshot in
// chunks no larger than the message budget; the follower then continues from the log.
TEST(Paper7, LaggingFollowerReceivesSnapshotInChunks) {
  TestCluster c(3, [](Config& cfg) {
    cfg.snapshot_entries = 5;
    cfg.max_message_bytes = 4;  // "state@NN" is split into several chunks
  });
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 20; ++i) {
    c.node(1).propose(std::string("e").append(std::to_string(i)));
    c.deliver_all();
  }
  c.tick_all(2);
  ASSERT_GT(c.at(1).storage->snapshot().meta.index, c.node(3).last_index());
  c.heal();
  c.sent().clear();
  c.tick_all(30);
  int chunks = 0;
  for (const auto& m : c.sent()) {
    if (m.type != MessageType::kSnapshotChunk) continue;
    ++chunks;
    EXPECT_LE(m.data.size(), 4u);
  }
  EXPECT_GE(chunks, 2);
  EXPECT_EQ(c.at(3).storage->snapshot().meta.index, c.at(1).storage->snapshot().meta.index)
      << "follower did not install the leader's snapshot";
  EXPECT_EQ(c.node(3).commit_index(), c.node(1).commit_index());
  c.node(1).propose("after");
  c.deliver_all();
  c.tick_all(2);
  EXPECT_EQ(applied_data(c.at(3)).back(), "after");
}

// Snapshotting a large state stays amortised: after a snapshot of S bytes the next one waits
// for ratio * S bytes of applied entries, not just for snapshot_entries of them.
TEST(Compaction, SnapshotsOfALargeStateWaitForLogBytesInProportion) {
  TestCluster c(1, [](Config& cfg) {
    cfg.snapshot_entries = 5;
    cfg.snapshot_log_ratio = 1.0;
  });
  c.elect(1);
  auto propose_until_snapshot = [&](int limit) {
    Index before = c.at(1).storage->snapshot().meta.index;
    for (int i = 1; i <= limit; ++i) {
      c.node(1).propose(std::string(20, 'e'));
      c.deliver_all();
      if (c.at(1).storage->snapshot().meta.index != before) return i;
    }
    return -1;
  };
  // The stand-in state is a few bytes: entries decide.
  EXPECT_LE(propose_until_snapshot(50), 5);
  // Now a 2,000-byte snapshot: 2,000 bytes of entries before the next, not 5 entries.
  c.node(1).propose("x");
  c.deliver_all();
  c.at(1).storage->create_snapshot(c.at(1).storage->last_index(), c.node(1).conf_state(), std::string(2000, 's'));
  int waited = propose_until_snapshot(500);
  int needed = static_cast<int>((2000 + entry_size(Entry{0, 0, EntryType::kNormal, std::string(20, 'e')}) - 1) /
                                entry_size(Entry{0, 0, EntryType::kNormal, std::string(20, 'e')}));
  EXPECT_GE(waited, needed);
  EXPECT_LE(waited, needed + 1);
}

// Bounded queues: a leader refuses proposals while too much is uncommitted.
TEST(FlowControl, ProposalsRefusedWhenUncommittedBytesExceedBound) {
  TestCluster c(3, [](Config& cfg) { cfg.max_uncommitted_bytes = 1000; });
  c.elect(1);
  c.isolate(1);
  int accepted = 0;
  RequestStatus last = RequestStatus::kOk;
  for (int i = 0; i < 100 && last == RequestStatus::kOk; ++i) {
    last = c.node(1).propose(std::string(100, 'x'));
    accepted += last == RequestStatus::kOk;
  }
  EXPECT_EQ(last, RequestStatus::kOverloaded);
  EXPECT_LE(accepted, 10);
}

TEST(ConfChangeCodec, RoundTripAndRejectsGarbage) {
  ConfChange cc{ConfChangeType::kAddLearner, 0x0102030405060708ull, "10.0.0.1:5000"};
  auto back = decode_conf_change(encode_conf_change(cc));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, cc);
  EXPECT_FALSE(decode_conf_change(""));
  EXPECT_FALSE(decode_conf_change(std::string(9, '\x07')));  // unknown type
  EXPECT_FALSE(decode_conf_change(std::string(1, '\0') + std::string(8, '\0')));  // node 0
}

}  // namespace
}  // namespace fednode::raft

namespace fednode::raft {
namespace {

// A leader that stops leading says why (the daemon logs it): a higher term and who sent it, or
// check-quorum when no majority answered within an election timeout.
TEST(LeadershipLoss, TheReasonIsKept) {
  TestCluster a(3);
  a.elect(1);
  EXPECT_EQ(a.node(1).step_down_reason(), "");
  Message higher;  // node 3 leads a later term (the lease ignores a vote request, not a leader)
  higher.type = MessageType::kHeartbeat;
  higher.from = 3;
  higher.to = 1;
  higher.term = a.node(1).term() + 5;
  a.node(1).step(higher);
  EXPECT_NE(a.node(1).role(), Role::kLeader);
  EXPECT_NE(a.node(1).step_down_reason().find("seen from node 3"), std::string::npos) << a.node(1).step_down_reason();

  TestCluster b(3);
  b.elect(1);
  b.tick_node(1, 100);  // nobody else ticks or answers: the leader hears no majority
  EXPECT_NE(b.node(1).role(), Role::kLeader);
  EXPECT_NE(b.node(1).step_down_reason().find("check-quorum"), std::string::npos) << b.node(1).step_down_reason();
}

}  // namespace
}  // namespace fednode::raft
