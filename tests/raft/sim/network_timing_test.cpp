// The --network presets (raft/timing.h) on simulated paths (network_timing.h): an hour of a
// 3-voter group at each round trip and loss the issue names, with one-way jitter of half the
// round trip; then the same with the leader cut off every 30 s.
#include "network_timing.h"

#include <gtest/gtest.h>

#include "fednode/raft/node.h"

namespace fednode::raft::sim {
namespace {

TimingRun wan_run(unsigned rtt, double loss) {
  TimingRun run;
  run.timing = timing_preset(NetworkPreset::kWan);
  run.path = {rtt, rtt / 2, loss};
  return run;
}

TEST(NetworkTiming, WanKeepsItsFirstLeaderForAnHourAtEveryRoundTripAndLoss) {
  for (unsigned rtt : {50u, 100u, 200u}) {
    for (double loss : {0.0, 0.01, 0.05}) {
      SCOPED_TRACE("rtt " + std::to_string(rtt) + " ms, loss " + std::to_string(loss));
      TimingOutcome o = run_network_timing(wan_run(rtt, loss));
      ASSERT_GE(o.first_leader_s, 0);
      EXPECT_LT(o.first_leader_s, 5);
      EXPECT_EQ(o.elections, 0u);
      EXPECT_EQ(o.campaigns, 0u);
      EXPECT_EQ(o.step_downs, 0u);
      EXPECT_EQ(o.leader_changes, 0u);
      EXPECT_GE(o.proposed, 35000u);  // 10 writes a second for an hour
      EXPECT_GE(o.committed, o.proposed - 10);
    }
  }
}

TEST(NetworkTiming, WanFailsOverWithinSecondsAtEveryRoundTripAndLoss) {
  for (unsigned rtt : {50u, 100u, 200u}) {
    for (double loss : {0.0, 0.01, 0.05}) {
      SCOPED_TRACE("rtt " + std::to_string(rtt) + " ms, loss " + std::to_string(loss));
      TimingRun run = wan_run(rtt, loss);
      run.crash_every_s = 30;
      run.down_s = 10;
      TimingOutcome o = run_network_timing(run);
      EXPECT_GE(o.crashes, 110u);
      EXPECT_EQ(o.failovers, o.crashes);  // every cut-off leader replaced while it was away
      EXPECT_LT(o.failover_mean_s, 3.5);
      EXPECT_LT(o.failover_max_s, 8);  // a cut lasts 10 s
    }
  }
}

// What wan is for: lan's 150-300 ms election timeout fails over in a fraction of a second on a
// LAN, and at 200 ms round trips its candidates' vote requests come back after other timeouts
// have fired, so failovers take seconds or do not finish while the old leader is away.
TEST(NetworkTiming, LanFailsOverFastOnALanAndBadlyAcrossTheInternet) {
  TimingRun run;
  run.timing = timing_preset(NetworkPreset::kLan);
  run.crash_every_s = 30;
  run.down_s = 10;
  run.seconds = 1200;
  run.path = {1, 0, 0.01};
  TimingOutcome lan = run_network_timing(run);
  ASSERT_GE(lan.crashes, 35u);
  EXPECT_EQ(lan.failovers, lan.crashes);
  EXPECT_LT(lan.failover_mean_s, 0.3);
  run.path = {200, 100, 0.01};
  TimingOutcome far = run_network_timing(run);
  ASSERT_GE(far.crashes, 35u);
  EXPECT_TRUE(far.failovers < far.crashes || far.failover_mean_s > 3)
      << far.failovers << " of " << far.crashes << " crashes failed over, in " << far.failover_mean_s << " s on average";
}

// The counts above can fail: on a path that loses a third of the datagrams lan's followers time
// out and elect new leaders.
TEST(NetworkTiming, ElectionsOnAPathThatLosesAThirdAreCounted) {
  TimingRun run;
  run.timing = timing_preset(NetworkPreset::kLan);
  run.path = {200, 100, 0.33};
  run.seconds = 600;
  TimingOutcome o = run_network_timing(run);
  EXPECT_GT(o.campaigns, 0u);
  EXPECT_GT(o.elections, 0u);
  EXPECT_GT(o.leader_changes + o.step_downs, 0u);
}

TEST(NetworkTiming, PresetsNameTheirTimingInTicks) {
  EXPECT_EQ(parse_network_preset("wan"), NetworkPreset::kWan);
  EXPECT_EQ(parse_network_preset("lan"), NetworkPreset::kLan);
  EXPECT_FALSE(parse_network_preset("WAN").has_value());
  Config c;
  apply_timing(timing_preset(NetworkPreset::kWan), &c);
  EXPECT_EQ(c.heartbeat_ticks, 10);
  EXPECT_EQ(c.heartbeat_resend_ticks, 0);
  EXPECT_EQ(c.election_ticks_min, 100);
  EXPECT_EQ(c.election_ticks_max, 200);
  apply_timing(timing_preset(NetworkPreset::kLan), &c);
  EXPECT_EQ(c.heartbeat_resend_ticks, 2);
  EXPECT_EQ(c.election_ticks_min, 15);
  EXPECT_EQ(c.election_ticks_max, 30);
}

}  // namespace
}  // namespace fednode::raft::sim
