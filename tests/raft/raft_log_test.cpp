#include <gtest/gtest.h>

#include "../../src/raft/raft_log.h"

namespace fednode::raft {
namespace {

std::vector<Entry> entries(std::initializer_list<std::pair<Index, Term>> list) {
  std::vector<Entry> out;
  for (auto [i, t] : list) out.push_back(Entry{t, i, EntryType::kNormal, std::string("d").append(std::to_string(i))});
  return out;
}

// §5.3 AppendEntries receiver, rule 3: a conflicting entry and all that follow are deleted.
TEST(RaftLog, MaybeAppendTruncatesConflictingSuffix) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 1}, {3, 2}, {4, 2}}));
  RaftLog log(s);
  auto last = log.maybe_append(2, 1, 0, entries({{3, 3}}));
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 3u);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.term(3), 3u);
  ASSERT_EQ(log.unstable_entries().size(), 1u);
  EXPECT_EQ(log.unstable_entries()[0].index, 3u);
}

// §5.3 receiver rule 2: reject when the log has no entry at prevLogIndex with prevLogTerm.
TEST(RaftLog, MaybeAppendRejectsMismatchedPrevious) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 1}}));
  RaftLog log(s);
  EXPECT_FALSE(log.maybe_append(2, 2, 0, entries({{3, 2}})));
  EXPECT_FALSE(log.maybe_append(5, 1, 0, {}));
}

// An append that repeats what the log holds truncates nothing (duplicated, late messages).
TEST(RaftLog, MaybeAppendOfKnownEntriesChangesNothing) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 1}, {3, 1}}));
  RaftLog log(s);
  EXPECT_EQ(log.maybe_append(0, 0, 0, entries({{1, 1}})), 1u);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_TRUE(log.unstable_entries().empty());
}

// Receiver rule 5: commitIndex = min(leaderCommit, index of last new entry).
TEST(RaftLog, CommitBoundedByLastNewEntry) {
  MemoryStorage s;
  RaftLog log(s);
  log.maybe_append(0, 0, 10, entries({{1, 1}, {2, 1}}));
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLog, FindConflictByTermWalksBackToOlderTerm) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 4}}));
  RaftLog log(s);
  EXPECT_EQ(log.find_conflict_by_term(5, 3), (std::pair<Index, Term>{4, 2}));
  EXPECT_EQ(log.find_conflict_by_term(5, 1), (std::pair<Index, Term>{2, 1}));
  EXPECT_EQ(log.find_conflict_by_term(5, 4), (std::pair<Index, Term>{5, 4}));
}

// §5.4.1: up-to-date compares last terms first, then lengths.
TEST(RaftLog, UpToDateComparesTermThenLength) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 3}}));
  RaftLog log(s);
  EXPECT_TRUE(log.is_up_to_date(1, 4));
  EXPECT_TRUE(log.is_up_to_date(2, 3));
  EXPECT_FALSE(log.is_up_to_date(1, 3));
  EXPECT_FALSE(log.is_up_to_date(9, 2));
}

TEST(RaftLog, SliceSpansStableAndUnstableWithinBudget) {
  MemoryStorage s;
  s.append(entries({{1, 1}, {2, 1}}));
  RaftLog log(s);
  log.append(entries({{3, 1}, {4, 1}}));
  EXPECT_EQ(log.slice(1, 5, 1 << 20).size(), 4u);
  EXPECT_EQ(log.slice(1, 5, 1).size(), 1u);  // always at least one
  EXPECT_EQ(log.slice(2, 4, 2 * entry_size(entries({{1, 1}})[0])).size(), 2u);
}

TEST(RaftLog, RestoreFromSnapshot) {
  MemoryStorage s;
  s.append(entries({{1, 1}}));
  RaftLog log(s);
  Snapshot snap{{10, 3, {{1, 2}, {}}}, "x"};
  log.restore(snap);
  EXPECT_EQ(log.first_index(), 11u);
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.term(10), 3u);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_FALSE(log.term(5));
}

}  // namespace
}  // namespace fednode::raft

namespace fednode::raft {
namespace {

// The core's invariant asserts stay on in every build type (the project builds RelWithDebInfo,
// which defines NDEBUG elsewhere): overwriting a committed entry stops the process.
TEST(RaftLogDeathTest, OverwritingACommittedEntryStopsTheProcessInThisBuild) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        MemoryStorage s;
        s.append(entries({{1, 1}, {2, 1}, {3, 1}}));
        RaftLog log(s);
        log.commit_to(3);
        log.maybe_append(1, 1, 3, entries({{2, 2}}));
      },
      "overwrite a committed entry");
}

}  // namespace
}  // namespace fednode::raft
