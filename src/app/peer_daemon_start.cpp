// The peer daemon's start: the wiring of storage, keys, the Raft node, the servers and the live
// view, in the order each needs the one before. Everything after start runs in peer_daemon.cpp.
#include "peer_daemon_class.h"

#include <algorithm>
#include <chrono>

#include "fednode/app/data_dir_owner.h"
#include "fednode/net/datagram_budget.h"
#include "fednode/raft/timing.h"
#include "fednode/app/web_assets.h"

namespace fednode {
namespace daemon {

// The data dir (whose it is was checked before the identity): the log and its snapshot (restored
// into the state machine), and for a founder's first start the bootstrap entries every founder
// writes alike.
Status PeerDaemon::open_storage() {
  storage::DurableOptions so;
  if (Status s = storage::DurableStorage::open(opt_.data_dir + "/raft", so, &storage_); !s.ok()) return s;
  // A founding member writes the same bootstrap entries as every other founder.
  if (storage_->last_index() == 0 && storage_->snapshot().empty() && !opt_.join) {
    std::vector<raft::ConfChange> founders = founding_members(opt_, identity_, members_);
    auto entries = raft::Node::bootstrap_entries(founders);
    if (Status s = storage_->append(entries); !s.ok()) return s;
    if (Status s = storage_->set_hard_state({1, raft::kNoNode, entries.back().index}, true); !s.ok()) return s;
    spdlog::info("bootstrapped a group of {} voters", founders.size());
  }
  if (!storage_->snapshot().empty()) {
    if (Status s = sm_.restore(storage_->snapshot().data); !s.ok()) return Status::error(opt_.data_dir + ": " + s.message());
    applied_ = storage_->snapshot().meta.index;
  }
  return {};
}

void PeerDaemon::set_up_keys() {
  // Peers named on the command line are reachable before the log says who the members are;
  // they go to the transport and the local address book, not into the replicated state.
  if (identity_.key) {
    peers_.set_sealer(std::make_unique<crypto::DatagramSealer>(*identity_.key, identity_.epoch, opt_.cluster_id));
    // The client channel: operators (and this node's own key) may do everything, other members
    // read; strangers fail the handshake.
    auto keys = std::make_shared<net::ClientChannelKeys>();
    keys->self = *identity_.key;
    keys->prologue = net::client_channel_prologue(opt_.cluster_id);
    keys->plaintext_anywhere = opt_.plaintext_clients;
    keys->admit = [this](const crypto::PublicKey& k, net::ClientCaller* caller) {
      bool op = k == identity_.key->public_key ||
                std::find(opt_.operator_keys.begin(), opt_.operator_keys.end(), k.text()) != opt_.operator_keys.end();
      if (op) {
        *caller = net::ClientCaller::kOperator;
        return Status();
      }
      if (std::find(opt_.admit_keys.begin(), opt_.admit_keys.end(), k.text()) != opt_.admit_keys.end()) {
        *caller = net::ClientCaller::kJoiner;
        return Status();
      }
      if (members_.key_of(crypto::node_id_of_key(k)) == k.text()) {
        *caller = net::ClientCaller::kMember;
        return Status();
      }
      return Status::error("key " + k.text() + " is neither an operator's nor a member's");
    };
    clients_.set_keys(std::move(keys));
  }
  for (const auto& f : founding_members(opt_, identity_, members_)) members_.learn_address(f.node, f.context);
  members_.restored();

}

Status PeerDaemon::make_node() {
  raft::Config c;
  c.id = self_id_;
  raft::apply_timing({opt_.tick_ms, opt_.heartbeat_ms, opt_.heartbeat_resend_ms, opt_.election_timeout_min_ms,
                      opt_.election_timeout_max_ms},
                     &c);
  // Appends and snapshot chunks fit --datagram-target (not IP-fragmented on a 1,500-byte MTU);
  // the snapshot window stays about 256 KB whatever the chunk size.
  c.max_message_bytes = opt_.datagram_target ? net::raft_payload_budget(opt_.datagram_target)
                                             : opt_.max_datagram - kDatagramHeadroom;
  c.max_inflight_chunks = std::max<std::size_t>(4, (256u << 10) / c.max_message_bytes);
  c.snapshot_entries = opt_.snapshot_entries;
  c.random_seed = self_id_ ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  // As leader, this loop goes on while its log writes are synced on a thread of their own.
  c.async_leader_persist = true;
  syncer_ = std::make_unique<storage::BackgroundSync>(
      [this](const storage::SyncReport& r) { asio::post(io_, [this, r] { on_synced(r); }); });
  // A snapshot a leader streams must restore into a state machine before it is installed and
  // persisted: garbage from a peer would otherwise stop this node for good at its next start.
  c.snapshot_acceptable = [](const std::string& data) {
    StateMachine probe;
    Status s = probe.restore(data);
    if (!s.ok()) spdlog::warn("refused a snapshot from the leader: {}", s.message());
    return s.ok();
  };
  node_ = std::make_unique<raft::Node>(c, *storage_);
  if (Status s = check_member_of_stored_group(opt_.data_dir, opt_.self.to_string(), is_member(), opt_.join,
                                              node_->conf_state().voters.size() + node_->conf_state().learners.size());
      !s.ok()) {
    return s;
  }
  if (opt_.join) {
    std::vector<SeedPeer> seeds;
    for (std::size_t i = 0; i < opt_.peers.size(); ++i) seeds.push_back({opt_.peers[i], opt_.peer_keys[i]});
    admission_ = std::make_unique<SelfAdmission>(opt_.self, identity_.key, opt_.cluster_id, std::move(seeds));
    if (!is_member()) {
      spdlog::info("not a member: asking {} seed(s) to add this node as a learner", opt_.peers.size());
      admission_->start_joining([this](std::vector<std::string> found) {
        asio::post(io_, [this, found = std::move(found)] { learn_seed_members(found); });
      });
    }
  }
  if (opt_.evict_after_s > 0) {
    eviction_.emplace(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.evict_after_s)));
  }
  return {};
}

// The metrics port: the live page, its JSON and Prometheus (read-only).
Status PeerDaemon::start_live_view() {
  // Read-only; inline script and style only, and nothing fetched from anywhere but this node.
  const std::string page_headers =
      "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
      "connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'\r\n"
      "Cache-Control: no-store\r\n";
  std::vector<net::HttpRoute> routes = {
      {"/metrics", "text/plain; version=0.0.4; charset=utf-8", [this](std::string_view) { return metrics_text(); }, "",
       false},
      {"/", "text/html; charset=utf-8", [](std::string_view) { return std::string(live_page_html()); }, page_headers,
       true},
      {"/api/status", "application/json", [this](std::string_view q) { return api_status(rounds_after(q)); },
       "Cache-Control: no-store\r\n", true},
  };
  metrics_ = std::make_unique<net::MetricsHttpServer>(io_, std::move(routes), opt_.self.host);
  if (Status s = metrics_->listen(PeerAddress{opt_.metrics_bind, opt_.metrics_port}); !s.ok()) return s;
  spdlog::info("live page at http://{}:{}/ (JSON at /api/status, Prometheus at /metrics)", opt_.metrics_bind,
               opt_.metrics_port);
  std::error_code ec;
  bool self_loopback = opt_.self.host == "localhost" || (asio::ip::make_address(opt_.self.host, ec).is_loopback() && !ec);
  if (asio::ip::make_address(opt_.metrics_bind, ec).is_loopback() && !ec && !self_loopback) {
    spdlog::warn("the metrics port listens on {} only (the default since 0.2): Prometheus on another machine needs "
                 "--metrics-bind with this machine's IPv4 address (or 0.0.0.0)", opt_.metrics_bind);
  }
  return {};
}

// The model store, the data plane that serves it (members only, in secure mode) and the worker
// threads the round's jobs run on, handed to the role controller.
Status PeerDaemon::make_round_services() {
  models_ = std::make_unique<fl::ModelStore>(opt_.data_dir + "/models");
  if (Status s = models_->init(); !s.ok()) return s;
  models_->set_quota(opt_.max_store_bytes, opt_.min_free_bytes);
  data_plane_ = std::make_unique<net::DataPlaneServer>(io_, *models_, net::kDefaultMaxFrame);
  if (Status s = data_plane_->listen(PeerAddress{opt_.self.host, opt_.data_port}); !s.ok()) return s;
  if (auto key = node_key()) {
    auto keys = std::make_shared<net::DataPlaneKeys>();
    keys->self = *key;
    keys->prologue = net::data_plane_prologue(opt_.cluster_id);
    keys->admit = [this](const crypto::PublicKey& k, std::uint64_t* node) {
      raft::NodeId id = crypto::node_id_of_key(k);
      if (key_of(id) != k.text()) return Status::error("key " + k.text() + " is not a member's");
      *node = id;
      return Status();
    };
    data_plane_->set_keys(std::move(keys));
  }
  LocalSource local = local_source(opt_.fl);  // reads and hashes --model FILE, once
  jobs_ = std::make_unique<JobThreads>(io_, *models_, local, *fl::parse_attack(opt_.fl.attack));
  controller_ = std::make_unique<RoleController>(io_, *this, opt_, events_,
                                                 RoundServices{*models_, *data_plane_, *jobs_, std::move(local)});
  return {};
}

Status PeerDaemon::start() {
  if (Status s = open_storage(); !s.ok()) return s;
  set_up_keys();
  if (Status s = make_node(); !s.ok()) return s;
  if (Status s = events_.open(opt_.data_dir + "/events.jsonl", opt_.self.to_string()); !s.ok()) return s;
  if (Status s = peers_.bind(opt_.self); !s.ok()) return s;
  if (Status s = clients_.listen(opt_.self); !s.ok()) return s;
  if (Status s = make_round_services(); !s.ok()) return s;
  if (Status s = controller_->start(); !s.ok()) return s;
  if (opt_.metrics_port != 0) {
    if (Status s = start_live_view(); !s.ok()) return s;
  }
  events_.write("started", JsonLine().add("data_port", std::uint64_t{opt_.data_port}).add("applied", applied_));
  signals_.async_wait([this](const std::error_code&, int signo) { shutdown(signo); });
  schedule_tick();
  spdlog::info("node {:x} up: Raft on UDP {}, clients on TCP {}, data plane on TCP {}:{}, {} peer(s), data in {}",
               self_id_, opt_.self.to_string(), opt_.self.to_string(), opt_.self.host, opt_.data_port,
               opt_.peers.size(), opt_.data_dir);
  spdlog::info("Raft timing: --network {}, heartbeat {} ms, election timeout {}-{} ms",
               raft::network_preset_name(opt_.network), opt_.heartbeat_ms, opt_.election_timeout_min_ms,
               opt_.election_timeout_max_ms);
  process_ready();
  return {};
}

}  // namespace daemon
}  // namespace fednode
