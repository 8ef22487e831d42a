// Messages no correct peer sends (a buggy or compromised member, or any host in --insecure mode)
// are dropped by the core before they touch its term, vote or log: a node must never persist a
// term it cannot campaign past, nor let an append size its log by an index it was handed.
#include <gtest/gtest.h>

#include <limits>

#include "test_cluster.h"

namespace fednode::raft {
namespace {

using testing::TestCluster;

constexpr Term kHugeTerm = std::numeric_limits<Term>::max();

Message message(MessageType type, NodeId from, NodeId to, Term term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

TEST(HostileMessage, TermThatWouldWrapIsDroppedBeforeItIsPersisted) {
  TestCluster c(3);
  c.elect(1);
  Term before = c.node(2).term();
  for (auto type : {MessageType::kVote, MessageType::kAppend, MessageType::kHeartbeat, MessageType::kTimeoutNow}) {
    c.node(2).step(message(type, 3, 2, kHugeTerm));
    EXPECT_EQ(c.node(2).term(), before) << message_type_name(type);
  }
  EXPECT_GE(c.node(2).malformed_dropped(), 4u);
  // The group still works.
  (void)c.node(1).propose("after");
  c.deliver_all();
  EXPECT_EQ(c.node(2).commit_index(), c.node(1).commit_index());
}

// Node 1 (the leader) sends node 2 one entry after node 2's last, at `index` with `term`.
void append_one(TestCluster& c, Index index, Term term) {
  Message m = message(MessageType::kAppend, 1, 2, c.node(1).term());
  m.index = c.node(2).last_index();
  m.log_term = c.node(1).term();
  Entry e;
  e.index = index;
  e.term = term;
  m.entries = {e};
  c.node(2).step(m);
}

TEST(HostileMessage, AppendWhoseEntriesSkipAheadIsDropped) {
  TestCluster c(3);
  c.elect(1);
  Index last = c.node(2).last_index();
  // Not last + 1: would size the log by a trillion entries (std::length_error, or the memory).
  append_one(c, last + (Index{1} << 40), c.node(1).term());
  EXPECT_EQ(c.node(2).last_index(), last);
  EXPECT_EQ(c.node(2).malformed_dropped(), 1u);
}

TEST(HostileMessage, AppendEntriesWithTermsAboveTheMessageTermAreDropped) {
  TestCluster c(3);
  c.elect(1);
  Index last = c.node(2).last_index();
  append_one(c, last + 1, c.node(1).term() + 5);  // a leader ships entries of its own term or older
  EXPECT_EQ(c.node(2).last_index(), last);
  EXPECT_EQ(c.node(2).malformed_dropped(), 1u);
}

// A snapshot stream whose assembled data the application cannot restore is dropped before the
// core installs it: nothing reaches a Ready, so nothing is persisted.
TEST(HostileMessage, SnapshotTheApplicationRefusesIsNeverInstalled) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_acceptable = [](const std::string& d) { return d.rfind("state@", 0) == 0; }; });
  c.elect(1);
  Index committed = c.node(2).commit_index();
  Message m = message(MessageType::kSnapshotChunk, 1, 2, c.node(1).term());
  m.snapshot.index = committed + 1000;
  m.snapshot.term = m.term;
  m.snapshot.conf = c.node(2).conf_state();
  m.data = "garbage";
  m.done = true;
  c.node(2).step(m);
  EXPECT_EQ(c.node(2).malformed_dropped(), 1u);
  EXPECT_EQ(c.node(2).commit_index(), committed);
  Ready rd = c.node(2).ready();
  EXPECT_FALSE(rd.snapshot) << "the refused snapshot would be persisted";
}

TEST(HostileMessage, SnapshotStreamPastTheSizeBoundIsDropped) {
  TestCluster c(3, [](Config& cfg) { cfg.max_snapshot_bytes = 1000; });
  c.elect(1);
  Message m = message(MessageType::kSnapshotChunk, 1, 2, c.node(1).term());
  m.snapshot.index = c.node(2).commit_index() + 1000;
  m.snapshot.term = m.term;
  for (int i = 0; i < 3; ++i) {
    m.offset = static_cast<std::uint64_t>(i) * 600;
    m.data = std::string(600, 'x');
    c.node(2).step(m);
  }
  EXPECT_GE(c.node(2).malformed_dropped(), 1u);
  EXPECT_FALSE(c.node(2).ready().snapshot);
}

// A member that lies (found by bench/soak.sh: a learner's crafted messages pushed the group's
// term from 53 to 4.6e18, within reach of the bound past which no message is accepted).
TEST(HostileMessage, TermJumpsPastTheBoundAreDropped) {
  TestCluster c(3);
  c.elect(1);
  Term before = c.node(2).term();
  Message m = message(MessageType::kHeartbeat, 3, 2, before + (Term{1} << 32) + 1);  // past kMaxTermJump
  c.node(2).step(m);
  EXPECT_EQ(c.node(2).term(), before);
  EXPECT_EQ(c.node(2).malformed_dropped(), 1u);
  m.term = before + 1;  // an election missed: taken
  c.node(2).step(m);
  EXPECT_EQ(c.node(2).term(), before + 1);
}

// The group of three with node 4 as a learner, caught up.
void with_learner(TestCluster& c) {
  c.elect(1);
  ASSERT_EQ(c.node(1).propose_conf_change({ConfChangeType::kAddLearner, 4, "h4:1"}), RequestStatus::kOk);
  c.add_empty(4);
  c.deliver_all();
  ASSERT_EQ(c.node(2).conf_state().learners, std::vector<NodeId>{4});
}

// A learner's messages may raise a term by 2^16 at most: it campaigns only once promoted (a change
// the receiver may not have applied yet), a few elections ahead.
TEST(HostileMessage, ALearnersTermJumpIsBoundedMoreTightly) {
  TestCluster c(3);
  with_learner(c);
  Term term = c.node(2).term();
  for (auto type : {MessageType::kHeartbeat, MessageType::kAppendResponse, MessageType::kVote}) {
    c.node(2).step(message(type, 4, 2, term + (Term{1} << 16) + 1));
    EXPECT_EQ(c.node(2).term(), term) << message_type_name(type);
  }
  EXPECT_EQ(c.node(2).malformed_dropped(), 3u);
  (void)c.node(1).propose("still leading");
  c.deliver_all();
  EXPECT_EQ(c.node(2).commit_index(), c.node(1).commit_index());
}

TEST(HostileMessage, ASecondLeaderInOneTermIsIgnored) {
  TestCluster c(3);
  c.elect(1);
  Index last = c.node(2).last_index();
  Message m = message(MessageType::kAppend, 3, 2, c.node(2).term());  // not the leader of this term
  m.index = last;
  m.log_term = c.node(2).term();
  m.entries = {Entry{m.term, last + 1, EntryType::kNormal, "forged"}};
  c.node(2).step(m);
  EXPECT_EQ(c.node(2).last_index(), last);
  EXPECT_EQ(c.node(2).malformed_dropped(), 1u);
}

// Leader completeness: no correct leader replaces a committed entry. A forged append that asks
// for it must neither change the log nor reach the log's invariant assert (which would abort):
// an append starting below the commit index is answered with the commit index and ignored.
TEST(HostileMessage, AnAppendReplacingACommittedEntryChangesNothing) {
  TestCluster c(3);
  c.elect(1);
  (void)c.node(1).propose("a");
  (void)c.node(1).propose("b");
  c.deliver_all();
  Index committed = c.node(2).commit_index();
  ASSERT_GE(committed, 3u);
  // A newer leader's term, so the follower adopts it first.
  Message m = message(MessageType::kAppend, 1, 2, c.node(1).term() + 1);
  m.index = committed - 2;
  m.log_term = c.node(2).term();
  for (Index i = committed - 1; i <= committed; ++i) m.entries.push_back(Entry{m.term, i, EntryType::kNormal, "rewrite"});
  Index last = c.node(2).last_index();
  c.node(2).step(m);
  EXPECT_EQ(c.node(2).commit_index(), committed);
  EXPECT_EQ(c.node(2).last_index(), last);
  Ready rd = c.node(2).ready();
  EXPECT_TRUE(rd.entries.empty()) << "entries of the forged append would be persisted";
}

}  // namespace
}  // namespace fednode::raft
