#include "fednode/app/node_metrics.h"

#include "fednode/util/prometheus_text.h"

namespace fednode {
namespace {

using Field = std::uint64_t net::ChannelCounters::*;

// A family over every channel: one sample per channel (and direction, where the pair is given).
void per_channel(PrometheusText& t, const NodeMetrics& m, const char* name, const char* help, Field in, Field out) {
  t.family(name, "counter", help);
  for (const auto& [channel, c] : m.channels) {
    if (out) {
      t.sample(name, c.*in, {{"channel", channel}, {"direction", "in"}});
      t.sample(name, c.*out, {{"channel", channel}, {"direction", "out"}});
    } else {
      t.sample(name, c.*in, {{"channel", channel}});
    }
  }
}

}  // namespace

std::string render_metrics(const NodeMetrics& m) {
  PrometheusText t;
  t.family("fednode_build_info", "gauge", "fednode's version, as a label").sample("fednode_build_info", 1.0, {{"version", m.version}});
  t.gauge("fednode_uptime_seconds", "Seconds since this node started (its monotonic clock)", m.uptime_seconds);

  t.gauge("fednode_raft_term", "Current Raft term", static_cast<double>(m.term));
  t.family("fednode_raft_role", "gauge", "1 for this node's current Raft role");
  for (const char* role : {"leader", "follower", "candidate"}) {
    t.sample("fednode_raft_role", m.role == role ? 1.0 : 0.0, {{"role", role}});
  }
  t.gauge("fednode_raft_commit_index", "Highest log index known committed", static_cast<double>(m.commit_index));
  t.gauge("fednode_raft_applied_index", "Highest log index applied to the state machine", static_cast<double>(m.applied_index));
  t.gauge("fednode_raft_last_index", "Last index in this node's log", static_cast<double>(m.last_index));
  t.gauge("fednode_raft_snapshot_index", "Index of the latest snapshot", static_cast<double>(m.snapshot_index));
  t.family("fednode_raft_members", "gauge", "Members of the group as applied here")
      .sample("fednode_raft_members", m.voters, {{"kind", "voter"}})
      .sample("fednode_raft_members", m.learners, {{"kind", "learner"}});
  t.counter("fednode_raft_leader_changes_total", "Times the known leader changed", m.leader_changes);
  t.counter("fednode_raft_proposals_dropped_total", "Proposals Raft refused (not leader, transfer, overload)",
            m.proposals_dropped);
  t.counter("fednode_raft_snapshots_installed_total", "Snapshots received from a leader and installed",
            m.snapshots_installed);
  t.counter("fednode_raft_malformed_messages_total", "Raft messages no correct peer sends, dropped unread",
            m.malformed_dropped);
  if (!m.followers_active.empty()) {
    t.family("fednode_raft_follower_active", "gauge",
             "On the leader: 1 for each other member heard from within the last election timeout");
    for (const auto& [peer, active] : m.followers_active) t.sample("fednode_raft_follower_active", active ? 1.0 : 0.0, {{"peer", peer}});
  }

  using C = net::ChannelCounters;
  per_channel(t, m, "fednode_channel_bytes_total", "Bytes on each channel", &C::bytes_in, &C::bytes_out);
  per_channel(t, m, "fednode_channel_messages_total", "Messages (datagrams, requests, frames) on each channel",
              &C::messages_in, &C::messages_out);
  per_channel(t, m, "fednode_channel_dropped_total", "Messages dropped: malformed, unauthenticated, over a limit",
              &C::dropped_in, &C::dropped_out);
  per_channel(t, m, "fednode_channel_auth_failed_total", "Sealed messages that failed authentication", &C::auth_failed,
              nullptr);
  per_channel(t, m, "fednode_channel_replayed_total", "Sealed messages seen before", &C::replayed, nullptr);
  per_channel(t, m, "fednode_channel_connections_refused_total", "TCP connections over a connection limit",
              &C::connections_refused, nullptr);
  per_channel(t, m, "fednode_channel_idle_closed_total", "TCP connections closed after the idle timeout", &C::idle_closed,
              nullptr);

  if (m.storage) {
    t.counter("fednode_storage_fsyncs_total", "fdatasync calls on the Raft log", m.storage->syncs);
    t.histogram("fednode_storage_fsync_seconds", "Latency of fdatasync on the Raft log", m.storage->sync_seconds);
    t.counter("fednode_storage_written_bytes_total", "Bytes written to the Raft log", m.storage->bytes_written);
  }
  t.gauge("fednode_storage_log_bytes", "Size of the Raft log's segments on disk", static_cast<double>(m.log_bytes));
  t.gauge("fednode_model_store_bytes", "Size of the model store (models, server states, updates)",
          static_cast<double>(m.model_store_bytes));
  if (m.disk_free_bytes) {
    t.gauge("fednode_disk_free_bytes", "Bytes available on the data dir's file system", static_cast<double>(*m.disk_free_bytes));
  }
  t.gauge("fednode_disk_free_bound_bytes", "--min-free-bytes: the model store refuses what would leave less (0: no bound)",
          static_cast<double>(m.min_free_bytes));

  t.gauge("fednode_fl_round", "Last committed federated round", static_cast<double>(m.round));
  t.gauge("fednode_fl_rounds_planned", "Rounds in the run configuration (0: none)", static_cast<double>(m.rounds_planned));
  t.gauge("fednode_fl_round_deadline_seconds", "The run's round deadline (0: no run)", m.round_deadline_seconds);
  t.gauge("fednode_fl_seconds_since_round_commit",
          "Seconds since this node applied the latest round commit (or started), on its monotonic clock",
          m.seconds_since_round_commit);
  if (m.have_accuracy) {
    t.gauge("fednode_fl_test_accuracy", "Test accuracy of the last evaluated committed model (0-1)", m.test_accuracy);
  }
  if (m.federated) {
    t.gauge("fednode_fl_federated_metric",
            "Federated evaluation of the last such round: the parties' sample-weighted accuracy (or MAE for regression) on their own test splits",
            m.federated->metric);
    t.gauge("fednode_fl_federated_loss", "Federated evaluation: the parties' sample-weighted test loss", m.federated->loss);
    t.gauge("fednode_fl_federated_samples", "Federated evaluation: test samples over all parties",
            static_cast<double>(m.federated->samples));
    t.gauge("fednode_fl_federated_parties", "Federated evaluation: parties that reported", static_cast<double>(m.federated->parties));
  }
  if (m.local_ready) {
    t.gauge("fednode_fl_local_ready", "This node's own model and data passed the first-batch check (1) or cannot be used (0)",
            *m.local_ready ? 1.0 : 0.0);
    t.gauge("fednode_fl_local_train_samples", "Training samples this node holds", static_cast<double>(m.local_train_samples));
    t.gauge("fednode_fl_local_test_samples", "Test samples this node holds", static_cast<double>(m.local_test_samples));
  }
  if (m.fl) {
    t.histogram("fednode_fl_round_duration_seconds", "From applying a round_start to applying its commit, here",
                m.fl->round_seconds);
    t.counter("fednode_fl_updates_accepted_total", "Trainers' updates this node took as aggregator", m.fl->updates_accepted);
    t.counter("fednode_fl_updates_refused_total", "Updates left out of an aggregation as invalid", m.fl->updates_refused);
    t.counter("fednode_fl_reruns_total", "Rounds this node ran again as aggregator", m.fl->reruns);
    t.counter("fednode_fl_trainings_total", "Local trainings finished", m.fl->trainings);
    t.family("fednode_fl_training_seconds_total", "counter", "Seconds spent in local training")
        .sample("fednode_fl_training_seconds_total", m.fl->training_seconds);
  }
  return t.str();
}

}  // namespace fednode
