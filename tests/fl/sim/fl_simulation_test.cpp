// The FL simulation as ctest runs it: thousands of seeds must pass, and each known bug injected
// into the round machine must be caught within the same seed budget (the harness has teeth).
#include <gtest/gtest.h>

#include "fl_simulation.h"
#include "seed_runner.h"

namespace fednode::fl::sim {
namespace {

constexpr std::uint64_t kSeedsPerShard = 1000;  // 2 shards: 2,000 seeds of 2,000 faulty ticks
constexpr std::uint64_t kBugSeedBudget = 2 * kSeedsPerShard;

std::string tail_of(const FlSimResult& r) { return sim_support::trace_tail(r.trace, 80); }

void expect_shard_passes(std::uint64_t shard) {
  std::uint64_t failing = 0;
  FlSimStats totals;
  FlSimResult r = run_fl_seeds(1 + shard * kSeedsPerShard, kSeedsPerShard, FlSimOptions{}, &failing, &totals);
  if (!r.ok) FAIL() << r.failure << "\nreproduce: fl-sim --trace-seed " << failing << "\n" << tail_of(r);
  // The runs must exercise what they claim to: rounds re-run, leaders and jobs lost, snapshots.
  EXPECT_GT(totals.commits, kSeedsPerShard * 2);
  EXPECT_EQ(totals.evaluations, totals.commits);  // every committed round's metrics land
  EXPECT_GT(totals.reruns, kSeedsPerShard / 2);
  EXPECT_GT(totals.leaders_elected, kSeedsPerShard * 3);
  EXPECT_GT(totals.crashes, kSeedsPerShard * 3);
  EXPECT_GT(totals.partitions, kSeedsPerShard);
  EXPECT_GT(totals.jobs_failed, kSeedsPerShard * 3);
  EXPECT_GT(totals.snapshots_installed, kSeedsPerShard / 10);
  // Liveness: once faults stop, every peer reaches exactly R rounds, evaluated, within the bound.
  EXPECT_GE(totals.liveness_ticks, 0);
  EXPECT_LE(totals.liveness_ticks, FlSimOptions{}.quiet_steps);
}

TEST(FlSimulation, RoundSafetyAndLivenessSeeds1To1000) { expect_shard_passes(0); }
TEST(FlSimulation, RoundSafetyAndLivenessSeeds1001To2000) { expect_shard_passes(1); }

// On each party's own data the aggregator trains too (else the leader's party would never be
// learnt from); the commit check above fails any run where it invites itself otherwise.
TEST(FlSimulation, AggregatorTrainsOnItsOwnData) {
  std::uint64_t own = 0, shared = 0;
  for (std::uint64_t seed = 1; seed <= 120; ++seed) {
    FlSimOptions o;
    o.seed = seed;
    FlSimResult r = run_fl_simulation(o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    (seed % 3 == 0 ? own : shared) += r.stats.aggregator_trained;
  }
  EXPECT_GT(own, 10u) << "aggregators on their own data never trained";
  EXPECT_EQ(shared, 0u);
}

// On each party's own data the metrics carry the parties' own evaluations (the commit check
// fails any that names an evaluation that never ran, or figures on shared data).
TEST(FlSimulation, PartiesEvaluateEachCommittedModelOnTheirOwnData) {
  std::uint64_t federated = 0;
  for (std::uint64_t seed = 3; seed <= 120; seed += 3) {
    FlSimOptions o;
    o.seed = seed;
    FlSimResult r = run_fl_simulation(o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    federated += r.stats.federated_evaluations;
  }
  EXPECT_GT(federated, 20u) << "no metrics carried the parties' evaluations";
}

TEST(FlSimulation, SameSeedSameRun) {
  FlSimOptions o;
  o.seed = 91;
  o.trace = true;
  FlSimResult a = run_fl_simulation(o);
  FlSimResult b = run_fl_simulation(o);
  EXPECT_FALSE(a.trace.empty());
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.stats.commits, b.stats.commits);
}

void expect_caught(RoundBugs bugs, const std::string& property) {
  FlSimOptions o;
  o.bugs = bugs;
  std::uint64_t failing = 0;
  FlSimResult r = run_fl_seeds(1, kBugSeedBudget, o, &failing);
  ASSERT_FALSE(r.ok) << "the injected bug went unnoticed for " << kBugSeedBudget << " seeds";
  EXPECT_NE(r.failure.find(property), std::string::npos) << r.failure;
}

TEST(FlSimulationTeeth, CatchesACommitBeforeAMajorityHoldsTheModel) {
  RoundBugs bugs;
  bugs.commit_before_majority = true;
  expect_caught(bugs, "voters when proposed");
}

TEST(FlSimulationTeeth, CatchesAnUpdateOfAnEarlierAttemptAccepted) {
  RoundBugs bugs;
  bugs.accept_earlier_attempt = true;
  expect_caught(bugs, "aggregates an update trained for");
}

TEST(FlSimulationTeeth, CatchesTrustInARemoteWallClock) {
  RoundBugs bugs;
  bugs.trust_remote_wall_clock = true;
  expect_caught(bugs, "but does not train it");
}

TEST(FlSimulationTeeth, CatchesAnAggregatorThatRestartsTheServerOptimiser) {
  RoundBugs bugs;
  bugs.fresh_server_state = true;
  expect_caught(bugs, "does not continue the state committed");
}

TEST(FlSimulationTeeth, CatchesAFailedJobDroppedOnTheFloor) {
  RoundBugs bugs;
  bugs.drop_failed_jobs = true;
  expect_caught(bugs, "liveness");
}

// A bug in the shell (the round driver the node runs too), not in the round machine.
TEST(FlSimulationTeeth, CatchesAShellThatStopsTheNewTrainingWithTheOld) {
  RoundBugs bugs;
  bugs.shell_stops_training_after_jobs = true;
  expect_caught(bugs, "liveness");
}

}  // namespace
}  // namespace fednode::fl::sim
