#pragma once
// What this node's federated rounds did, for /metrics: counted by the role controller as the
// round machine's notes and job results pass through it, durations on the local monotonic clock.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fednode/util/histogram.h"

namespace fednode {

struct FlMetrics {
  std::uint64_t updates_accepted = 0;  // as aggregator
  std::uint64_t updates_refused = 0;   // as aggregator: invalid updates left out of an aggregation
  std::uint64_t reruns = 0;            // as aggregator
  std::uint64_t trainings = 0;         // local trainings finished
  double training_seconds = 0;
  // From applying a round_start to applying its commit, as this node saw them.
  Histogram round_seconds{{0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600}};
  std::optional<std::chrono::steady_clock::time_point> start_applied;

  void note(const std::string& type) {
    if (type == "update_received") ++updates_accepted;
    if (type == "update_refused") ++updates_refused;
    if (type == "round_rerun") ++reruns;
  }
};

}  // namespace fednode
