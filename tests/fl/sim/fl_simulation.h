#pragma once
// A deterministic simulation of federated rounds: on every simulated peer the real Raft core
// (driven through raft::handle_ready) and the real round machine, over a simulated network
// (delay, loss, duplication, reordering, partitions), with crashes that lose everything but the
// disk, restarts, clocks that differ from peer to peer, and a fake executor whose jobs take
// random times and fail at random (full queues, crashed jobs, failed transfers). Models and
// updates are names that move between peers' stores only along connected links.
//
// After every step it checks: committed rounds are numbered 1..R with no gap and no repeat,
// and every peer's history agrees with every other's; only the commit of the current (term,
// attempt) applies; every committed model was held by a majority of voters when its commit was
// proposed; an aggregation uses only updates trained for its own attempt; nobody trains a
// round it was not invited to, and an invited trainer that applied a fresh start trains it.
// Liveness: after the faults stop, the run reaches exactly R rounds on every peer.
#include <cstdint>
#include <string>
#include <vector>

#include "fednode/fl/round_machine.h"

namespace fednode::fl::sim {

struct FlSimOptions {
  std::uint64_t seed = 1;
  int steps = 2000;        // ticks (10 ms each) with faults
  int quiet_steps = 6000;  // then no faults: every peer must reach R rounds within this
  RoundBugs bugs;
  bool trace = false;
};

struct FlSimStats {
  std::string parameters;  // what the seed chose
  std::uint64_t rounds = 0;
  std::uint64_t leaders_elected = 0;
  std::uint64_t crashes = 0;
  std::uint64_t partitions = 0;
  std::uint64_t reruns = 0;
  std::uint64_t jobs = 0;
  std::uint64_t jobs_failed = 0;
  std::uint64_t proposals_refused = 0;  // by the simulated Raft, injected
  std::uint64_t commits = 0;           // rounds committed (first apply anywhere)
  std::uint64_t evaluations = 0;       // rounds whose metrics were applied (first apply anywhere)
  std::uint64_t distinct_aggregators = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t aggregator_trained = 0;  // commits whose aggregator's own update is in them
  std::uint64_t federated_evaluations = 0;  // metrics carrying parties' own evaluations
  int liveness_ticks = -1;  // quiet-phase ticks until every peer applied R rounds
};

struct FlSimResult {
  bool ok = true;
  std::string failure;
  std::vector<std::string> trace;
  FlSimStats stats;
};

FlSimResult run_fl_simulation(const FlSimOptions& options);

// Runs seeds [first, first + count); returns the first failure (re-run with a trace), or ok.
FlSimResult run_fl_seeds(std::uint64_t first, std::uint64_t count, FlSimOptions base, std::uint64_t* failing_seed,
                         FlSimStats* totals = nullptr);

}  // namespace fednode::fl::sim
