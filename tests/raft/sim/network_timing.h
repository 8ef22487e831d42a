#pragma once
// Raft's timing against a network's round trip and loss: a group of raft::Node cores on a
// simulated path (each message's one-way delay half the round trip plus up to `jitter_ms`, each
// lost with probability `loss`), ticked every TimingMs::tick on their own clocks (out of phase),
// with a leader taking client writes. Time is simulated to the millisecond, so an hour of it
// runs in a fraction of a second. What counts is whether the timing keeps the first leader: every term
// begun after it is an election nobody asked for.
#include <cstdint>

#include "fednode/raft/timing.h"

namespace fednode::raft::sim {

struct PathModel {
  unsigned rtt_ms = 0;
  unsigned jitter_ms = 0;  // added to each message's one-way delay, drawn uniformly
  double loss = 0;         // each message lost independently
};

struct TimingRun {
  TimingMs timing;
  PathModel path;
  int voters = 3;
  double seconds = 3600;
  unsigned writes_per_s = 10;
  // Every crash_every_s the leader of the moment is cut off (no ticks, nothing in or out) for
  // down_s, then comes back with its storage (0: never; elections then count failovers too).
  double crash_every_s = 0;
  double down_s = 5;
  std::uint64_t seed = 1;
};

struct TimingOutcome {
  double first_leader_s = -1;      // -1: no leader was ever elected
  std::uint64_t elections = 0;     // terms begun after the first leader's
  std::uint64_t leader_changes = 0;
  std::uint64_t step_downs = 0;    // leaders that stepped down (check-quorum)
  std::uint64_t campaigns = 0;     // followers that timed out after the first leader (pre-vote or vote)
  std::uint64_t proposed = 0;
  std::uint64_t committed = 0;     // writes committed on the leader of the moment
  double messages_per_s = 0;       // sent by all nodes together
  std::uint64_t crashes = 0;
  std::uint64_t failovers = 0;     // crashes after which another leader committed its first entry
  double failover_mean_s = 0;      // from the crash to that commit
  double failover_max_s = 0;
};

TimingOutcome run_network_timing(const TimingRun& run);

}  // namespace fednode::raft::sim
