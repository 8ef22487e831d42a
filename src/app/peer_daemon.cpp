// The peer daemon: one asio io_context thread (the control loop) owns the Raft node, its
// storage, the UDP peer channel, the TCP client channel, the tick timer, the replicated state
// machine (key-value map + FL rounds) and the role controller (which owns the data plane).
// After every input it drains the node's Ready: persist, send, apply, then lets the role
// controller act on what changed.
#include "fednode/app/peer_daemon.h"

#include <sys/stat.h>

#include <asio.hpp>
#include <msgpack.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "fednode/app/client_service.h"
#include "fednode/app/event_log.h"
#include "fednode/app/membership.h"
#include "fednode/app/node_identity.h"
#include "fednode/app/node_metrics.h"
#include "fednode/crypto/boot_epoch.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/node_key.h"
#include "fednode/app/role_controller.h"
#include "fednode/app/state_machine.h"
#include "fednode/net/client_connection.h"
#include "fednode/net/client_server.h"
#include "fednode/net/metrics_http.h"
#include "fednode/net/peer_transport.h"
#include "fednode/raft/conf_change.h"
#include "fednode/raft/node.h"
#include "fednode/raft/ready_driver.h"
#include "fednode/fl/raft_view.h"
#include "fednode/storage/durable_storage.h"
#include "fednode/util/logging.h"
#include "fednode/util/once_per.h"
#include "fednode/version.h"

namespace fednode {


namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kDatagramHeadroom = 1024;  // header, snapshot metadata

class PeerDaemon : public RaftHost, private raft::ReadyHandler, private ClientRaft {
 public:
  PeerDaemon(const NodeOptions& o, const Identity& identity)
      : opt_(o),
        self_id_(identity.id),
        identity_(identity),
        tick_timer_(io_),
        signals_(io_, SIGINT, SIGTERM),
        peers_(io_, o.cluster_id, o.max_datagram, [this](const raft::Message& m) { on_peer_message(m); }),
        clients_(io_, 1u << 20, [this](const msgpack::object& req, const std::string& type, const msgpack::object* id,
                                       net::ClientServer::Reply reply, net::ClientCaller caller) {
          on_client(req, type, id, std::move(reply), caller);
        }),
        members_(self_id_, sm_.kv(), peers_, identity.key.has_value()),
        service_(*this, sm_.kv(), o.max_datagram - kDatagramHeadroom - 64, o.max_kv_bytes),
        started_(Clock::now()) {}

  int run() {
    if (Status s = start(); !s.ok()) {
      spdlog::error("{}", s.message());
      return 1;
    }
    io_.run();
    if (controller_) {
      controller_->stop();
      JsonLine traffic;
      add_traffic(&traffic);
      events_.write("stopped", traffic);
    }
    spdlog::info("stopped; storage synced");
    return exit_code_;
  }

  // RaftHost, for the role controller.
  fl::RaftView raft_view() const override { return fl::raft_view_of(*node_, applied_, members_.member_ids()); }
  bool propose(const std::string& command) override {  // the role controller's round commands
    if (node_->propose(StateMachine::tagged(StateMachine::Kind::kRound, command)) != raft::RequestStatus::kOk) return false;
    schedule_ready();
    return true;
  }
  void flush() override { process_ready(); }
  std::string address_of(raft::NodeId id) const override { return members_.address_of(id); }
  std::string key_of(raft::NodeId id) const override { return members_.key_of(id); }
  std::optional<crypto::NodeKey> node_key() const override { return identity_.key; }
  bool transfer_leadership(raft::NodeId to) override {
    if (node_->transfer_leadership(to) != raft::RequestStatus::kOk) return false;
    schedule_ready();
    return true;
  }
  const fl::RoundState& rounds() const override { return sm_.rounds(); }
  void add_traffic(JsonLine* line) const override;

 private:
  Status start();
  void schedule_tick();
  void on_peer_message(const raft::Message& m) {
    auto dropped = node_->malformed_dropped();
    node_->step(m);
    if (node_->malformed_dropped() != dropped && malformed_warnings_.allow()) {
      spdlog::warn("dropped a malformed {} from peer {:x} (term {}, index {}, {} entries); {} so far",
                   raft::message_type_name(m.type), m.from, m.term, m.index, m.entries.size(), node_->malformed_dropped());
    }
    schedule_ready();
  }
  OncePer malformed_warnings_;
  // Group commit: inputs that arrive in one turn of the loop share one Ready, so one fdatasync
  // covers all of them.
  void schedule_ready() {
    if (ready_scheduled_) return;
    ready_scheduled_ = true;
    asio::post(io_, [this] {
      ready_scheduled_ = false;
      process_ready();
    });
  }
  void on_client(const msgpack::object& req, const std::string& type, const msgpack::object* id,
                 net::ClientServer::Reply reply, net::ClientCaller caller) {
    service_.handle(req, type, id, std::move(reply), caller);
    schedule_ready();
  }
  void process_ready();
  // ClientRaft: the client service's view of the node.
  bool is_leader() const override { return node_->role() == raft::Role::kLeader; }
  std::optional<PeerAddress> leader_address() const override { return members_.address(node_->leader()); }
  std::string leader_key() const override {
    return identity_.key && leader_address() ? members_.key_of(node_->leader()) : "";
  }
  raft::RequestStatus propose_key_value(const std::string& command) override {
    return node_->propose(StateMachine::tagged(StateMachine::Kind::kKeyValue, command));
  }
  raft::RequestStatus propose_conf_change(const raft::ConfChange& change) override {
    return node_->propose_conf_change(change);
  }
  raft::RequestStatus request_transfer(raft::NodeId to) override { return node_->transfer_leadership(to); }
  raft::RequestStatus read_index(std::uint64_t request) override { return node_->read_index(request); }
  raft::Index last_index() const override { return node_->last_index(); }
  raft::Term term() const override { return node_->term(); }
  std::string status_page(const std::string& type, const msgpack::object* id) override {
    return type == "fl_status" ? fl_status(id) : diagnostic(id);
  }
  std::optional<raft::NodeId> member_at(const PeerAddress& address) const override { return members_.member_at(address); }
  Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id,
                  std::string* member) const override {
    return members_.identify(address, key, id, member);
  }
  // raft::ReadyHandler: what the driver does with each Ready.
  Status persist(const raft::Ready& ready) override;
  Status install(const raft::Snapshot& snapshot) override;
  void send(const raft::Message& m) override { peers_.send(m); }
  Status apply(const raft::Entry& e) override;
  void read_ready(const raft::ReadState& read) override;
  void applied_batch() override { service_.serve_reads(applied_); }
  Status snapshot(const raft::ConfState& conf) override;
  std::string diagnostic(const msgpack::object* id);
  std::string fl_status(const msgpack::object* id);
  std::string metrics_text() const;
  void shutdown(int signo);
  void fatal(const Status& s) {
    spdlog::critical("{}; stopping", s.message());
    exit_code_ = 1;
    io_.stop();
  }

  NodeOptions opt_;
  raft::NodeId self_id_;
  Identity identity_;
  asio::io_context io_;
  asio::steady_timer tick_timer_;
  asio::signal_set signals_;
  net::PeerTransport peers_;
  net::ClientServer clients_;
  std::unique_ptr<storage::DurableStorage> storage_;
  std::unique_ptr<raft::Node> node_;
  StateMachine sm_;
  EventLog events_;
  std::unique_ptr<RoleController> controller_;
  std::unique_ptr<net::MetricsHttpServer> metrics_;
  std::uint64_t leader_changes_ = 0, snapshots_installed_ = 0;
  raft::NodeId known_leader_ = raft::kNoNode;
  bool polling_ = false;
  bool in_ready_ = false;
  raft::Index applied_ = 0;
  Membership members_;
  ClientService service_;
  Clock::time_point started_;
  bool stopping_ = false;
  bool ready_scheduled_ = false;
  int exit_code_ = 0;
};

Status PeerDaemon::start() {
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

  raft::Config c;
  c.id = self_id_;
  c.heartbeat_ticks = static_cast<int>(opt_.heartbeat_ms / opt_.tick_ms);
  c.election_ticks_min = static_cast<int>(opt_.election_timeout_min_ms / opt_.tick_ms);
  c.election_ticks_max = static_cast<int>(opt_.election_timeout_max_ms / opt_.tick_ms);
  c.max_message_bytes = opt_.max_datagram - kDatagramHeadroom;
  c.snapshot_entries = opt_.snapshot_entries;
  c.random_seed = self_id_ ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  // A snapshot a leader streams must restore into a state machine before it is installed and
  // persisted: garbage from a peer would otherwise stop this node for good at its next start.
  c.snapshot_acceptable = [](const std::string& data) {
    StateMachine probe;
    Status s = probe.restore(data);
    if (!s.ok()) spdlog::warn("refused a snapshot from the leader: {}", s.message());
    return s.ok();
  };
  node_ = std::make_unique<raft::Node>(c, *storage_);

  if (Status s = events_.open(opt_.data_dir + "/events.jsonl", opt_.self.to_string()); !s.ok()) return s;
  if (Status s = peers_.bind(opt_.self); !s.ok()) return s;
  if (Status s = clients_.listen(opt_.self); !s.ok()) return s;
  controller_ = std::make_unique<RoleController>(io_, *this, opt_, events_);
  if (Status s = controller_->start(); !s.ok()) return s;
  if (opt_.metrics_port != 0) {
    metrics_ = std::make_unique<net::MetricsHttpServer>(io_, [this] { return metrics_text(); });
    if (Status s = metrics_->listen(PeerAddress{opt_.self.host, opt_.metrics_port}); !s.ok()) return s;
    spdlog::info("Prometheus metrics at http://{}:{}/metrics", opt_.self.host, opt_.metrics_port);
  }
  events_.write("started", JsonLine().add("data_port", std::uint64_t{opt_.data_port}).add("applied", applied_));
  signals_.async_wait([this](const std::error_code&, int signo) { shutdown(signo); });
  schedule_tick();
  spdlog::info("node {:x} up: Raft on UDP {}, clients on TCP {}, data plane on TCP {}:{}, {} peer(s), data in {}",
               self_id_, opt_.self.to_string(), opt_.self.to_string(), opt_.self.host, opt_.data_port,
               opt_.peers.size(), opt_.data_dir);
  process_ready();
  return {};
}

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

void PeerDaemon::schedule_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(opt_.tick_ms));
  tick_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    node_->tick();
    schedule_ready();
    schedule_tick();
  });
}

void PeerDaemon::process_ready() {
  if (in_ready_) {  // a flush asked for from inside a Ready (an apply): after this one
    schedule_ready();
    return;
  }
  in_ready_ = true;
  Status s = raft::drain_ready(*node_, *this);
  in_ready_ = false;
  if (!s.ok()) return fatal(s);
  if (node_->leader() != known_leader_) {
    known_leader_ = node_->leader();
    if (known_leader_ != raft::kNoNode) ++leader_changes_;
  }
  if (controller_ && !polling_) {
    polling_ = true;
    controller_->poll();
    polling_ = false;
  }
  // A node that lost leadership cannot confirm reads any more.
  if (node_->role() != raft::Role::kLeader) service_.leadership_lost();
}

Status PeerDaemon::persist(const raft::Ready& rd) { return storage_->save(rd); }

Status PeerDaemon::install(const raft::Snapshot& snapshot) {
  if (Status s = sm_.restore(snapshot.data); !s.ok()) return Status::error("snapshot from leader: " + s.message());
  members_.restored();
  applied_ = snapshot.meta.index;
  ++snapshots_installed_;
  spdlog::info("installed a snapshot from the leader at index {} ({} committed rounds)", applied_,
               sm_.rounds().committed().size());
  return {};
}

void PeerDaemon::read_ready(const raft::ReadState& rs) { service_.read_confirmed(rs.request_id, rs.index); }

Status PeerDaemon::snapshot(const raft::ConfState& conf) {
  if (applied_ <= storage_->snapshot().meta.index) return {};
  return storage_->create_snapshot(applied_, conf, sm_.snapshot());
}

Status PeerDaemon::apply(const raft::Entry& e) {
  applied_ = e.index;
  if (e.type == raft::EntryType::kConfChange) {
    if (auto cc = raft::decode_conf_change(e.data)) members_.apply(*cc);
  } else if (!e.data.empty()) {
    fl::RoundEvent event;
    std::string why;
    if (Status s = sm_.apply(e.data, &event, &why); !s.ok()) {
      spdlog::error("entry {}: {}", e.index, s.message());
    } else if (controller_ && (event != fl::RoundEvent::kIgnored || !why.empty())) {
      controller_->on_round_event(event, why);
    }
  }
  service_.applied(e.index, e.term);
  return {};
}

std::string PeerDaemon::diagnostic(const msgpack::object* id) {
  const char* status = node_->role() == raft::Role::kLeader ? "Leader"
                       : node_->role() == raft::Role::kFollower ? "Follower" : "Candidate";
  net::Response r(7, id);
  auto& p = r.pack();
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
  net::ChannelCounters raft_udp = peers_.counters();
  raft_udp.dropped_in += node_->malformed_dropped();  // well-formed datagrams carrying impossible messages
  channel("raft_udp", raft_udp);
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
  net::ChannelCounters raft_udp = peers_.counters();
  raft_udp.dropped_in += node_->malformed_dropped();
  m.channels = {{"raft_udp", raft_udp}, {"client_tcp", clients_.counters()}, {"data_tcp", controller_->data_counters()}};
  if (metrics_) m.channels.emplace_back("metrics_http", metrics_->counters());
  m.storage = &storage_->stats();
  m.log_bytes = storage_->log_bytes();
  m.model_store_bytes = controller_->model_store_bytes();
  const auto& rounds = sm_.rounds();
  m.round = rounds.last_round();
  m.rounds_planned = rounds.config() ? rounds.config()->rounds : 0;
  m.have_accuracy = !rounds.committed().empty();
  if (m.have_accuracy) m.test_accuracy = rounds.committed().back().test_accuracy;
  m.fl = &controller_->fl_metrics();
  return render_metrics(m);
}

// Our own request: the replicated round state as this node has applied it, with the members'
// addresses (to name aggregators and participants) and whether this node holds each model.
std::string PeerDaemon::fl_status(const msgpack::object* id) {
  const auto& rounds = sm_.rounds();
  auto progress = controller_->progress();
  net::Response r(progress ? 5 : 4, id);
  auto& p = r.pack();
  p.pack("type");
  p.pack("fl_status");
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

void PeerDaemon::shutdown(int signo) {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("signal {}: shutting down", signo);
  if (controller_) controller_->stop();
  // A leader hands over first, so the group does not wait out an election timeout.
  if (node_->role() == raft::Role::kLeader) {
    raft::NodeId best = raft::kNoNode;
    raft::Index best_match = 0;
    for (const auto& f : node_->followers()) {
      if (!f.learner && f.match >= best_match) {
        best = f.id;
        best_match = f.match;
      }
    }
    if (best != raft::kNoNode && node_->transfer_leadership(best) == raft::RequestStatus::kOk) {
      process_ready();
      auto deadline = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(opt_.election_timeout_min_ms));
      deadline->async_wait([this, deadline](const std::error_code&) { io_.stop(); });
      auto poll = std::make_shared<std::function<void()>>();
      auto timer = std::make_shared<asio::steady_timer>(io_);
      *poll = [this, poll, timer]() {
        if (node_->role() != raft::Role::kLeader) {
          spdlog::info("leadership transferred");
          io_.stop();
          return;
        }
        timer->expires_after(std::chrono::milliseconds(opt_.tick_ms));
        timer->async_wait([poll](const std::error_code& ec) { if (!ec) (*poll)(); });
      };
      (*poll)();
      return;
    }
  }
  io_.stop();
}

}  // namespace

int run_peer(const NodeOptions& options) {
  // The log, models, updates and events are this node's owner's alone: files 0600, dirs 0700.
  ::umask(077);
  init_logging(options.self.to_string(), options.log_level);
  // Descriptors up to the hard limit: the connection caps, not the soft default of 1024, should
  // be what stops a flood of connections, and the log must always be able to open a file.
  if (rlimit r{}; ::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  Identity identity;
  if (Status s = establish_identity(options, &identity); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  return PeerDaemon(options, identity).run();
}

}  // namespace fednode
