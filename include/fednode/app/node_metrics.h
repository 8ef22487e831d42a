#pragma once
// A node's /metrics page: everything a scrape reads, gathered by the daemon on the control loop
// into plain values, then written in the Prometheus text format by a pure function (unit-tested,
// and checked with promtool where it is installed).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fednode/app/fl_metrics.h"
#include "fednode/net/channel_counters.h"
#include "fednode/storage/durable_storage.h"

namespace fednode {

struct NodeMetrics {
  std::string version;
  double uptime_seconds = 0;
  // Raft
  std::uint64_t term = 0;
  std::string role;  // leader | follower | candidate
  std::uint64_t commit_index = 0, applied_index = 0, last_index = 0, snapshot_index = 0;
  std::uint64_t voters = 0, learners = 0;
  std::uint64_t leader_changes = 0, proposals_dropped = 0, snapshots_installed = 0, malformed_dropped = 0;
  // A leader's view of each other member: heard from within the last election timeout.
  std::vector<std::pair<std::string, bool>> followers_active;
  // Channels by name (raft_udp, client_tcp, data_tcp, metrics_http)
  std::vector<std::pair<std::string, net::ChannelCounters>> channels;
  // Storage
  const storage::StorageStats* storage = nullptr;
  std::uint64_t log_bytes = 0, model_store_bytes = 0;
  std::optional<std::uint64_t> disk_free_bytes;  // on the data dir's file system
  std::uint64_t min_free_bytes = 0;              // --min-free-bytes (0: none)
  // Federated rounds (the replicated state as applied here, and this node's own counters)
  std::uint64_t round = 0, rounds_planned = 0;
  double round_deadline_seconds = 0;     // the run's round deadline (0: no run)
  double seconds_since_round_commit = 0; // this node's monotonic clock, since it applied the last round (or started)
  bool have_accuracy = false;
  double test_accuracy = 0;
  // This node's own model and data: 1 once a batch went through the model, 0 when they cannot be
  // used (the reason is in the log and fl_status), absent while still loading.
  struct Federated {  // the latest committed round the parties evaluated on their own test splits
    double loss = 0, metric = 0;
    std::uint64_t samples = 0;
    std::size_t parties = 0;
  };
  std::optional<Federated> federated;
  std::optional<bool> local_ready;
  std::uint64_t local_train_samples = 0, local_test_samples = 0;
  const FlMetrics* fl = nullptr;
};

std::string render_metrics(const NodeMetrics& m);

}  // namespace fednode
