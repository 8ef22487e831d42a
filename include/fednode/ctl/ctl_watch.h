#pragma once
// `fednode ctl HOST:PORT watch [--interval S] [--count N]`: a live view of the group, redrawn
// every interval: each member's role, term, commit index and bytes per second on each channel;
// the run, the round under way (phase, updates received of invited, seconds), and the accuracy of
// the rounds so far. The frame is built by a pure function from what the nodes answered.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fednode/util/peer_address.h"

namespace fednode {

struct WatchMember {
  std::string address;
  bool reachable = false;
  std::string role;        // Leader | Follower | Candidate
  std::string membership;  // voter | learner | none
  std::uint64_t term = 0, commit = 0;
  double raft_bps = 0, client_bps = 0, data_bps = 0;  // in + out, since the previous frame
};

struct WatchFrame {
  std::string target, clock;
  double interval_s = 1;
  std::vector<WatchMember> members;
  std::string no_answer;  // why the target did not answer ("" when it did)
  std::string run;  // "10 rounds of cifar10-cnn on cifar10, fedavg" or ""
  std::uint64_t rounds_planned = 0, rounds_committed = 0;
  std::vector<std::pair<std::uint64_t, double>> accuracy;  // committed rounds with their metrics in
  bool finished = false;                                   // every round committed and evaluated
  // The round under way, as its aggregator reports it.
  std::optional<std::uint64_t> round;
  std::string phase, aggregator;
  std::uint64_t updates = 0, invited = 0;
  double seconds = 0;
};

std::string render_watch(const WatchFrame& frame);

// Runs the view until Ctrl-C, or for `count` frames when count > 0. Returns the exit code.
int run_watch(const PeerAddress& address, const std::vector<std::string>& flags);

}  // namespace fednode
