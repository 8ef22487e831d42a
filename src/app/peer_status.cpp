// The peer daemon's status pages: zatt's diagnostic map, our fl_status (the replicated rounds as
// this node applied them) and the Prometheus page, plus the traffic counters in round events.
#include "peer_daemon_class.h"

#include "fednode/app/node_metrics.h"
#include "fednode/version.h"

#include <filesystem>

namespace fednode::daemon {

void PeerDaemon::add_traffic(JsonLine* line) const {
  auto channel = [](const net::ChannelCounters& c) {
    return JsonLine()
        .add("bytes_in", c.bytes_in)
        .add("bytes_out", c.bytes_out)
        .add("messages_in", c.messages_in)
        .add("messages_out", c.messages_out)
        .str();
  };
  line->add_raw("raft_udp", channel(peers_.counters()));
  line->add_raw("client_tcp", channel(clients_.counters()));
  line->add_raw("data_tcp", channel(controller_->data_counters()));
}

// "training": this node's own model and data, as the first-batch check found them.
void PeerDaemon::pack_training(msgpack::packer<msgpack::sbuffer>& p) const {
  const auto& ready = controller_->local_ready();
  const auto& local = controller_->local_source();
  p.pack("training");
  p.pack_map(6);
  p.pack("state");
  p.pack(ready ? "ready" : controller_->local_error().empty() ? "preparing" : "failed");
  p.pack("error");
  p.pack(controller_->local_error());
  p.pack("data");
  p.pack(local.data);
  p.pack("model_file");
  p.pack(local.model_file);
  p.pack("train_samples");
  p.pack(ready ? ready->train_samples : 0);
  p.pack("test_samples");
  p.pack(ready ? ready->test_samples : 0);
}

std::string PeerDaemon::diagnostic(const msgpack::object* id) {
  const char* status = node_->role() == raft::Role::kLeader ? "Leader"
                       : node_->role() == raft::Role::kFollower ? "Follower" : "Candidate";
  net::Response r(8, id);
  auto& p = r.pack();
  pack_training(p);
  p.pack("data_port");
  p.pack(opt_.data_port);
  p.pack("membership");  // voter | learner | none (not, or not yet, a member)
  const auto& conf = node_->conf_state();
  auto has = [this](const std::vector<raft::NodeId>& ids) { return std::find(ids.begin(), ids.end(), self_id_) != ids.end(); };
  p.pack(has(conf.voters) ? "voter" : has(conf.learners) ? "learner" : "none");
  p.pack("status");
  p.pack(status);
  p.pack("persist");
  p.pack_map(2);
  p.pack("votedFor");
  p.pack(storage_->hard_state().vote);
  p.pack("currentTerm");
  p.pack(node_->term());
  p.pack("volatile");
  p.pack_map(5);
  p.pack("leaderId");
  p.pack(node_->leader());
  p.pack("cluster");
  p.pack(members_.member_addresses());
  p.pack("cluster_keys");  // HOST:PORT -> public key (secure mode), for clients that talk to every member
  std::map<std::string, std::string> keys;
  for (auto id : members_.member_ids()) {
    if (std::string k = members_.key_of(id); !k.empty()) keys[members_.address_of(id)] = k;
  }
  p.pack(keys);
  p.pack("address");
  p.pack(opt_.self.to_string());
  p.pack("id");
  p.pack(self_id_);
  p.pack("log");
  p.pack_map(4);
  p.pack("commitIndex");
  p.pack(node_->commit_index());
  p.pack("lastApplied");
  p.pack(applied_);
  p.pack("lastIndex");
  p.pack(node_->last_index());
  p.pack("snapshotIndex");
  p.pack(storage_->snapshot().meta.index);
  p.pack("stats");
  p.pack_map(4);
  p.pack("uptime");
  p.pack(std::chrono::duration<double>(Clock::now() - started_).count());
  auto channel = [&](const char* name, const net::ChannelCounters& c) {
    p.pack(name);
    p.pack_map(10);
    p.pack("bytes_in");
    p.pack(c.bytes_in);
    p.pack("bytes_out");
    p.pack(c.bytes_out);
    p.pack("messages_in");
    p.pack(c.messages_in);
    p.pack("messages_out");
    p.pack(c.messages_out);
    p.pack("dropped_in");
    p.pack(c.dropped_in);
    p.pack("dropped_out");
    p.pack(c.dropped_out);
    p.pack("auth_failed");
    p.pack(c.auth_failed);
    p.pack("replayed");
    p.pack(c.replayed);
    p.pack("connections_refused");
    p.pack(c.connections_refused);
    p.pack("idle_closed");
    p.pack(c.idle_closed);
  };
  channel("raft_udp", raft_counters());
  channel("client_tcp", clients_.counters());
  channel("data_tcp", controller_->data_counters());
  r.finish();
  return r.bytes();
}

std::string PeerDaemon::metrics_text() const {
  NodeMetrics m;
  m.version = kVersion;
  m.uptime_seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  m.term = node_->term();
  m.role = node_->role() == raft::Role::kLeader ? "leader" : node_->role() == raft::Role::kFollower ? "follower" : "candidate";
  m.commit_index = node_->commit_index();
  m.applied_index = applied_;
  m.last_index = node_->last_index();
  m.snapshot_index = storage_->snapshot().meta.index;
  m.voters = node_->conf_state().voters.size();
  m.learners = node_->conf_state().learners.size();
  m.leader_changes = leader_changes_;
  m.proposals_dropped = node_->proposals_dropped();
  m.snapshots_installed = snapshots_installed_;
  m.malformed_dropped = node_->malformed_dropped();
  if (node_->role() == raft::Role::kLeader) {
    for (const auto& f : node_->followers()) m.followers_active.emplace_back(members_.address_of(f.id), f.recent_active);
  }
  m.channels = {{"raft_udp", raft_counters()}, {"client_tcp", clients_.counters()}, {"data_tcp", controller_->data_counters()}};
  if (metrics_) m.channels.emplace_back("metrics_http", metrics_->counters());
  m.storage = &storage_->stats();
  m.log_bytes = storage_->log_bytes();
  m.model_store_bytes = controller_->model_store_bytes();
  std::error_code ec;
  auto space = std::filesystem::space(opt_.data_dir, ec);
  if (!ec) m.disk_free_bytes = space.available;
  m.min_free_bytes = opt_.min_free_bytes;
  const auto& rounds = sm_.rounds();
  m.round = rounds.last_round();
  m.rounds_planned = rounds.config() ? rounds.config()->rounds : 0;
  m.round_deadline_seconds = rounds.config() ? static_cast<double>(rounds.config()->deadline_ms) / 1000.0 : 0;
  m.seconds_since_round_commit = std::chrono::duration<double>(Clock::now() - round_seen_at_).count();
  const fl::RoundRecord* evaluated = rounds.last_evaluated();
  m.have_accuracy = evaluated != nullptr;
  if (evaluated) m.test_accuracy = evaluated->test_accuracy;
  for (auto it = rounds.committed().rbegin(); it != rounds.committed().rend(); ++it) {
    if (it->parties.empty()) continue;
    fl::FederatedEval f = fl::federated(it->parties);
    m.federated = NodeMetrics::Federated{f.loss, f.metric, f.samples, it->parties.size()};
    break;
  }
  if (const auto& ready = controller_->local_ready()) {
    m.local_ready = true;
    m.local_train_samples = ready->train_samples;
    m.local_test_samples = ready->test_samples;
  } else if (!controller_->local_error().empty()) {
    m.local_ready = false;
  }
  m.fl = &controller_->fl_metrics();
  return render_metrics(m);
}

// Our own request: the replicated round state as this node has applied it, with the members'
// addresses (to name aggregators and participants) and whether this node holds each model.
std::string PeerDaemon::fl_status(const msgpack::object* id) {
  const auto& rounds = sm_.rounds();
  auto progress = controller_->progress();
  net::Response r(progress ? 6 : 5, id);
  auto& p = r.pack();
  p.pack("type");
  p.pack("fl_status");
  pack_training(p);
  if (progress) {  // this node aggregates: where the round stands
    p.pack("progress");
    p.pack_map(5);
    p.pack("round");
    p.pack(progress->round);
    p.pack("phase");
    p.pack(progress->phase);
    p.pack("updates");
    p.pack(progress->updates);
    p.pack("invited");
    p.pack(progress->invited);
    p.pack("seconds");
    p.pack(static_cast<double>(progress->elapsed) / 1000.0);
  }
  p.pack("members");
  p.pack(members_.address_map());
  p.pack("rounds");
  rounds.pack(p);
  p.pack("have_models");
  std::vector<std::string> have;
  for (const auto& rec : rounds.committed()) {
    if (controller_->has_model(rec.model_id)) have.push_back(rec.model_id);
  }
  p.pack(have);
  r.finish();
  return r.bytes();
}

}  // namespace fednode::daemon
