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

TEST(HostileMessage, TermThatWouldWrapIsDroppedBeforeItIsPersisted) {
  TestCluster c(3);
  c.elect(1);
  Term before = c.node(2).term();
  for (auto type : {MessageType::kVote, MessageType::kAppend, MessageType::kHeartbeat, MessageType::kTimeoutNow}) {
    Message m;
    m.type = type;
    m.from = 3;
    m.to = 2;
    m.term = kHugeTerm;
    c.node(2).step(m);
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
  Message m;
  m.type = MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = c.node(1).term();
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
  Message m;
  m.type = MessageType::kSnapshotChunk;
  m.from = 1;
  m.to = 2;
  m.term = c.node(1).term();
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
  Message m;
  m.type = MessageType::kSnapshotChunk;
  m.from = 1;
  m.to = 2;
  m.term = c.node(1).term();
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

}  // namespace
}  // namespace fednode::raft
