// The simulation harness as ctest runs it: thousands of seeds must pass, and each known bug
// injected into the core must be caught within the same seed budget (the harness has teeth).
#include <gtest/gtest.h>

#include "seed_runner.h"
#include "simulation.h"

namespace fednode::raft::sim {
namespace {

constexpr std::uint64_t kSeedsPerShard = 1000;  // 4 shards: 4,000 seeds of 1,000 faulty ticks
constexpr std::uint64_t kBugSeedBudget = 4 * kSeedsPerShard;

void expect_shard_passes(std::uint64_t shard) {
  std::uint64_t failing = 0;
  SimStats totals;
  SimResult r = run_seeds(1 + shard * kSeedsPerShard, kSeedsPerShard, SimOptions{}, &failing, &totals);
  if (!r.ok) FAIL() << r.failure << "\nreproduce: raft-sim --trace-seed " << failing << "\n" << sim_support::trace_tail(r.trace, 60);
  // The runs must actually exercise what they claim to.
  EXPECT_GT(totals.leaders_elected, kSeedsPerShard);
  EXPECT_GT(totals.crashes, kSeedsPerShard);
  EXPECT_GT(totals.partitions, kSeedsPerShard / 2);
  EXPECT_GT(totals.conf_changes, kSeedsPerShard * 3);
  EXPECT_GT(totals.transfers, kSeedsPerShard / 10);
  EXPECT_GT(totals.snapshots_installed, kSeedsPerShard);
  EXPECT_GT(totals.reads_served, kSeedsPerShard * 10);
  EXPECT_GT(totals.writes_acked, kSeedsPerShard * 50);
  // Liveness (§5.6): once faults stop, a write commits on a majority within the stated bound.
  EXPECT_GE(totals.liveness_ticks, 0);
  EXPECT_LE(totals.liveness_ticks, SimOptions{}.quiet_steps);
}

TEST(RaftSimulation, SafetyAndLivenessSeeds1To1000) { expect_shard_passes(0); }
TEST(RaftSimulation, SafetyAndLivenessSeeds1001To2000) { expect_shard_passes(1); }
TEST(RaftSimulation, SafetyAndLivenessSeeds2001To3000) { expect_shard_passes(2); }
TEST(RaftSimulation, SafetyAndLivenessSeeds3001To4000) { expect_shard_passes(3); }

TEST(RaftSimulation, SameSeedSameRun) {
  SimOptions o;
  o.seed = 77;
  o.trace = true;
  SimResult a = run_simulation(o);
  SimResult b = run_simulation(o);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.stats.entries_committed, b.stats.entries_committed);
  EXPECT_EQ(a.stats.messages_delivered, b.stats.messages_delivered);
}

// Runs the seeds with one bug injected: some seed must fail on one of the properties named,
// within the budget. Seeds that fail on liveness only are passed over (counted): a bug that makes
// nodes lose entries they acknowledged also makes them refuse to vote until they have them back
// (rolled_back_until), which can leave a run without a leader; what the harness must still
// catch is the safety violation the bug causes.
void expect_caught(const SimOptions& o, const char* what, std::initializer_list<const char*> properties) {
  std::uint64_t first = 1, end = 1 + kBugSeedBudget, liveness_only = 0;
  while (first < end) {
    std::uint64_t seed = 0;
    SimResult r = run_seeds(first, end - first, o, &seed);
    ASSERT_FALSE(r.ok) << what << " went unnoticed over " << kBugSeedBudget << " seeds (" << liveness_only
                       << " failed on liveness only)";
    bool named = false;
    for (const char* p : properties) named |= r.failure.find(p) != std::string::npos;
    if (named) return;
    ASSERT_NE(r.failure.find("liveness"), std::string::npos) << r.failure;
    ++liveness_only;
    first = seed + 1;
  }
  FAIL() << what << " was never caught on " << *properties.begin() << " or the others named";
}

void expect_caught(void (*inject)(InjectedBugs&), const char* what, std::initializer_list<const char*> properties) {
  SimOptions o;
  inject(o.bugs);
  expect_caught(o, what, properties);
}

// A data dir restored in place rolls back the node's term, vote and log: it may vote again in a
// term it voted in, and forget entries it acknowledged. fednode's docs forbid it (restore as a new
// member instead); the harness shows why.
TEST(RaftSimulationTeeth, CatchesARestoreInPlace) {
  SimOptions o;
  o.restore_in_place = true;
  expect_caught(o, "a data dir restored in place", {"election safety", "completeness", "state machine safety"});
}

TEST(RaftSimulationTeeth, CatchesCommittingPreviousTermEntryByCounting) {
  expect_caught([](InjectedBugs& b) { b.commit_previous_term_by_counting = true; }, "§5.4.2 violation",
                {"completeness", "state machine safety"});
}

TEST(RaftSimulationTeeth, CatchesForgettingToPersistVote) {
  expect_caught([](InjectedBugs& b) { b.forget_to_persist_vote = true; }, "lost votedFor", {"election safety"});
}

TEST(RaftSimulationTeeth, CatchesVotingWithoutLogCheck) {
  expect_caught([](InjectedBugs& b) { b.vote_without_log_check = true; }, "§5.4.1 violation",
                {"completeness", "state machine safety"});
}

TEST(RaftSimulationTeeth, CatchesApplyingBeforeCommit) {
  expect_caught([](InjectedBugs& b) { b.apply_before_commit = true; }, "applying uncommitted entries",
                {"stale read", "state machine safety", "completeness"});
}

TEST(RaftSimulationTeeth, CatchesAFollowerAnsweringBeforeItsDiskWrite) {
  expect_caught([](InjectedBugs& b) { b.send_before_persist_always = true; },
                "acknowledging entries that a crash then lost",
                {"completeness", "state machine safety", "election safety", "log matching"});
}

TEST(RaftSimulationTeeth, CatchesALeaderCountingItsCopyBeforeTheBackgroundWriteIsDurable) {
  expect_caught([](InjectedBugs& b) { b.count_own_copy_before_durable = true; },
                "committing with the leader's copy still in flight to its disk",
                {"completeness", "state machine safety", "log matching"});
}

}  // namespace
}  // namespace fednode::raft::sim
