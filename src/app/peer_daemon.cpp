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

#include <chrono>
#include <map>

#include "fednode/app/event_log.h"
#include "fednode/app/role_controller.h"
#include "fednode/app/state_machine.h"
#include "fednode/net/client_connection.h"
#include "fednode/net/client_server.h"
#include "fednode/net/peer_transport.h"
#include "fednode/raft/conf_change.h"
#include "fednode/raft/node.h"
#include "fednode/raft/ready_driver.h"
#include "fednode/fl/raft_view.h"
#include "fednode/storage/durable_storage.h"
#include "fednode/util/logging.h"

namespace fednode {

raft::NodeId node_id_of(const PeerAddress& address) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : address.to_string()) h = (h ^ c) * 0x100000001b3ull;
  return h == 0 ? 1 : h;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kDatagramHeadroom = 1024;  // header, snapshot metadata

class PeerDaemon : public RaftHost, private raft::ReadyHandler {
 public:
  explicit PeerDaemon(const NodeOptions& o)
      : opt_(o),
        self_id_(node_id_of(o.self)),
        tick_timer_(io_),
        signals_(io_, SIGINT, SIGTERM),
        peers_(io_, o.cluster_id, o.max_datagram, [this](const raft::Message& m) { on_peer_message(m); }),
        clients_(io_, 1u << 20, [this](const msgpack::object& req, const std::string& type, const msgpack::object* id,
                                       net::ClientServer::Reply reply) { on_client(req, type, id, std::move(reply)); }),
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
  fl::RaftView raft_view() const override {
    std::vector<fl::NodeId> members;
    for (const auto& [id, addr] : sm_.kv().members()) members.push_back(id);
    return fl::raft_view_of(*node_, applied_, std::move(members));
  }
  bool propose(const std::string& command) override {  // the role controller's round commands
    if (node_->propose(StateMachine::tagged(StateMachine::Kind::kRound, command)) != raft::RequestStatus::kOk) return false;
    schedule_ready();
    return true;
  }
  void flush() override { process_ready(); }
  std::string address_of(raft::NodeId id) const override {
    auto it = addresses_.find(id);
    return it == addresses_.end() ? "" : it->second;
  }
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
    if (node_->malformed_dropped() != dropped && Clock::now() - malformed_warned_ > std::chrono::seconds(1)) {
      malformed_warned_ = Clock::now();
      spdlog::warn("dropped a malformed {} from peer {:x} (term {}, index {}, {} entries); {} so far",
                   raft::message_type_name(m.type), m.from, m.term, m.index, m.entries.size(), node_->malformed_dropped());
    }
    schedule_ready();
  }
  Clock::time_point malformed_warned_{};
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
                 net::ClientServer::Reply reply);
  void process_ready();
  void answer_when_applied(raft::RequestStatus status, const msgpack::object* id, net::ClientServer::Reply reply);
  // raft::ReadyHandler: what the driver does with each Ready.
  Status persist(const raft::Ready& ready) override;
  Status install(const raft::Snapshot& snapshot) override;
  void send(const raft::Message& m) override { peers_.send(m); }
  Status apply(const raft::Entry& e) override;
  void read_ready(const raft::ReadState& read) override;
  void applied_batch() override { serve_reads(); }
  Status snapshot(const raft::ConfState& conf) override;
  void serve_reads();
  void learn_member(raft::NodeId id, const std::string& address);   // replicated membership
  void learn_address(raft::NodeId id, const std::string& address);  // transport + address book
  std::string redirect(const msgpack::object* id);
  std::string result(bool success, const msgpack::object* id, const std::string& reason = "");
  std::string state_map(const msgpack::object* id);
  std::string diagnostic(const msgpack::object* id);
  std::string fl_status(const msgpack::object* id);
  void shutdown(int signo);
  void fatal(const Status& s) {
    spdlog::critical("{}; stopping", s.message());
    exit_code_ = 1;
    io_.stop();
  }

  NodeOptions opt_;
  raft::NodeId self_id_;
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
  bool polling_ = false;
  bool in_ready_ = false;
  std::map<raft::NodeId, std::string> addresses_;  // every peer we know how to reach
  raft::Index applied_ = 0;
  struct PendingWrite {
    raft::Term term;
    net::ClientServer::Reply reply;
    std::shared_ptr<msgpack::object_handle> id;
  };
  std::map<raft::Index, PendingWrite> pending_writes_;
  struct PendingRead {
    net::ClientServer::Reply reply;
    std::shared_ptr<msgpack::object_handle> id;
    raft::Index index = 0;
    bool confirmed = false;
  };
  std::map<std::uint64_t, PendingRead> pending_reads_;
  std::uint64_t next_read_ = 0;
  Clock::time_point started_;
  bool stopping_ = false;
  bool ready_scheduled_ = false;
  int exit_code_ = 0;
};

std::shared_ptr<msgpack::object_handle> copy_id(const msgpack::object* id) {
  if (!id) return nullptr;
  msgpack::sbuffer b;
  msgpack::pack(b, *id);
  return std::make_shared<msgpack::object_handle>(msgpack::unpack(b.data(), b.size()));
}

const msgpack::object* id_of(const std::shared_ptr<msgpack::object_handle>& h) { return h ? &h->get() : nullptr; }

// The peer named by a request's `address` and `port` fields.
std::optional<PeerAddress> request_peer(const msgpack::object& req, std::string* why) {
  const msgpack::object* port = net::map_field(req, "port");
  if (!port || port->type != msgpack::type::POSITIVE_INTEGER) return std::nullopt;
  return parse_peer_address(net::as_string(net::map_field(req, "address")) + ":" + std::to_string(port->via.u64), why);
}

Status PeerDaemon::start() {
  storage::DurableOptions so;
  if (Status s = storage::DurableStorage::open(opt_.data_dir + "/raft", so, &storage_); !s.ok()) return s;
  // A founding member writes the same bootstrap entries as every other founder.
  if (storage_->last_index() == 0 && storage_->snapshot().empty() && !opt_.join) {
    std::vector<PeerAddress> all = opt_.peers;
    all.push_back(opt_.self);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return node_id_of(a) < node_id_of(b); });
    std::vector<raft::ConfChange> founders;
    for (const auto& a : all) founders.push_back({raft::ConfChangeType::kAddVoter, node_id_of(a), a.to_string()});
    auto entries = raft::Node::bootstrap_entries(founders);
    if (Status s = storage_->append(entries); !s.ok()) return s;
    if (Status s = storage_->set_hard_state({1, raft::kNoNode, entries.back().index}, true); !s.ok()) return s;
    spdlog::info("bootstrapped a group of {} voters", all.size());
  }
  if (!storage_->snapshot().empty()) {
    if (Status s = sm_.restore(storage_->snapshot().data); !s.ok()) return Status::error(opt_.data_dir + ": " + s.message());
    applied_ = storage_->snapshot().meta.index;
  }
  // Peers named on the command line are reachable before the log says who the members are;
  // they go to the transport and the local address book, not into the replicated state.
  for (const auto& p : opt_.peers) learn_address(node_id_of(p), p.to_string());
  for (const auto& [id, addr] : sm_.kv().members()) learn_address(id, addr);

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
  events_.write("started", JsonLine().add("data_port", std::uint64_t{opt_.data_port}).add("applied", applied_));
  signals_.async_wait([this](const std::error_code&, int signo) { shutdown(signo); });
  schedule_tick();
  spdlog::info("node {:x} up: Raft on UDP {}, clients on TCP {}, data plane on TCP {}:{}, {} peer(s), data in {}",
               self_id_, opt_.self.to_string(), opt_.self.to_string(), opt_.self.host, opt_.data_port,
               opt_.peers.size(), opt_.data_dir);
  process_ready();
  return {};
}

void PeerDaemon::learn_member(raft::NodeId id, const std::string& address) {
  sm_.kv().members()[id] = address;
  learn_address(id, address);
}

void PeerDaemon::learn_address(raft::NodeId id, const std::string& address) {
  addresses_[id] = address;
  if (id == self_id_) return;
  std::string why;
  auto parsed = parse_peer_address(address, &why);
  if (!parsed) {
    spdlog::warn("member {:x}: {}", id, why);
    return;
  }
  if (Status s = peers_.add_peer(id, *parsed); !s.ok()) spdlog::warn("member {:x}: {}", id, s.message());
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
  if (controller_ && !polling_) {
    polling_ = true;
    controller_->poll();
    polling_ = false;
  }
  // A node that lost leadership cannot confirm reads any more.
  if (node_->role() != raft::Role::kLeader) {
    for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
      if (it->second.confirmed) {
        ++it;
        continue;
      }
      it->second.reply(redirect(id_of(it->second.id)), false);
      it = pending_reads_.erase(it);
    }
  }
}

Status PeerDaemon::persist(const raft::Ready& rd) { return storage_->save(rd); }

Status PeerDaemon::install(const raft::Snapshot& snapshot) {
  if (Status s = sm_.restore(snapshot.data); !s.ok()) return Status::error("snapshot from leader: " + s.message());
  for (const auto& [id, addr] : sm_.kv().members()) learn_address(id, addr);
  applied_ = snapshot.meta.index;
  spdlog::info("installed a snapshot from the leader at index {} ({} committed rounds)", applied_,
               sm_.rounds().committed().size());
  return {};
}

void PeerDaemon::read_ready(const raft::ReadState& rs) {
  auto it = pending_reads_.find(rs.request_id);
  if (it == pending_reads_.end()) return;
  it->second.index = rs.index;
  it->second.confirmed = true;
}

Status PeerDaemon::snapshot(const raft::ConfState& conf) {
  if (applied_ <= storage_->snapshot().meta.index) return {};
  return storage_->create_snapshot(applied_, conf, sm_.snapshot());
}

Status PeerDaemon::apply(const raft::Entry& e) {
  applied_ = e.index;
  if (e.type == raft::EntryType::kConfChange) {
    if (auto cc = raft::decode_conf_change(e.data)) {
      if (cc->type == raft::ConfChangeType::kRemove) {
        sm_.kv().members().erase(cc->node);
        addresses_.erase(cc->node);
        peers_.remove_peer(cc->node);
      } else if (!cc->context.empty()) {
        learn_member(cc->node, cc->context);
      }
    }
  } else if (!e.data.empty()) {
    fl::RoundEvent event;
    std::string why;
    if (Status s = sm_.apply(e.data, &event, &why); !s.ok()) {
      spdlog::error("entry {}: {}", e.index, s.message());
    } else if (controller_ && (event != fl::RoundEvent::kIgnored || !why.empty())) {
      controller_->on_round_event(event, why);
    }
  }
  auto it = pending_writes_.find(e.index);
  if (it != pending_writes_.end()) {
    it->second.reply(result(it->second.term == e.term, id_of(it->second.id)), false);
    pending_writes_.erase(it);
  }
  return {};
}

void PeerDaemon::serve_reads() {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.confirmed && applied_ >= it->second.index) {
      it->second.reply(state_map(id_of(it->second.id)), false);
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string PeerDaemon::redirect(const msgpack::object* id) {
  net::Response r(2, id);
  r.pack().pack("type");
  r.pack().pack("redirect");
  r.pack().pack("leader");
  auto leader = addresses_.find(node_->leader());
  std::string why;
  std::optional<PeerAddress> addr;
  if (node_->leader() != raft::kNoNode && leader != addresses_.end()) addr = parse_peer_address(leader->second, &why);
  if (addr) {
    r.pack().pack_array(2);
    r.pack().pack(addr->host);
    r.pack().pack(addr->port);
  } else {
    r.pack().pack_nil();
  }
  r.finish();
  return r.bytes();
}

std::string PeerDaemon::result(bool success, const msgpack::object* id, const std::string& reason) {
  net::Response r(reason.empty() ? 2 : 3, id);
  r.pack().pack("type");
  r.pack().pack("result");
  r.pack().pack("success");
  r.pack().pack(success);
  if (!reason.empty()) {
    r.pack().pack("reason");
    r.pack().pack(reason);
  }
  r.finish();
  return r.bytes();
}

std::string PeerDaemon::state_map(const msgpack::object* id) {
  // zatt answers `get` with the state map itself.
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(static_cast<std::uint32_t>(sm_.kv().entries().size() + (id ? 1 : 0)));
  for (const auto& [k, v] : sm_.kv().entries()) {
    p.pack(k);
    b.write(v.data(), v.size());
  }
  if (id) {
    p.pack("id");
    p.pack(*id);
  }
  return std::string(b.data(), b.size());
}

std::string PeerDaemon::diagnostic(const msgpack::object* id) {
  const char* status = node_->role() == raft::Role::kLeader ? "Leader"
                       : node_->role() == raft::Role::kFollower ? "Follower" : "Candidate";
  net::Response r(6, id);
  auto& p = r.pack();
  p.pack("data_port");
  p.pack(opt_.data_port);
  p.pack("status");
  p.pack(status);
  p.pack("persist");
  p.pack_map(2);
  p.pack("votedFor");
  p.pack(storage_->hard_state().vote);
  p.pack("currentTerm");
  p.pack(node_->term());
  p.pack("volatile");
  p.pack_map(4);
  p.pack("leaderId");
  p.pack(node_->leader());
  p.pack("cluster");
  std::vector<std::string> cluster;
  for (const auto& [mid, addr] : sm_.kv().members()) cluster.push_back(addr);
  p.pack(cluster);
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
    p.pack_map(6);
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
  };
  net::ChannelCounters raft_udp = peers_.counters();
  raft_udp.dropped_in += node_->malformed_dropped();  // well-formed datagrams carrying impossible messages
  channel("raft_udp", raft_udp);
  channel("client_tcp", clients_.counters());
  channel("data_tcp", controller_->data_counters());
  r.finish();
  return r.bytes();
}

// Our own request: the replicated round state as this node has applied it, with the members'
// addresses (to name aggregators and participants) and whether this node holds each model.
std::string PeerDaemon::fl_status(const msgpack::object* id) {
  const auto& rounds = sm_.rounds();
  net::Response r(4, id);
  auto& p = r.pack();
  p.pack("type");
  p.pack("fl_status");
  p.pack("members");
  p.pack(sm_.kv().members());
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

void PeerDaemon::on_client(const msgpack::object& req, const std::string& type, const msgpack::object* id,
                           net::ClientServer::Reply reply) {
  bool leader = node_->role() == raft::Role::kLeader;
  if (type == "diagnostic") {
    reply(diagnostic(id), false);
  } else if (type == "fl_status") {
    reply(fl_status(id), false);
  } else if (type == "get") {
    const msgpack::object* stale = net::map_field(req, "stale");
    if ((stale && stale->type == msgpack::type::BOOLEAN && stale->via.boolean)) {
      reply(state_map(id), false);
    } else if (!leader) {
      reply(redirect(id), false);
    } else {
      std::uint64_t rid = ++next_read_;
      pending_reads_[rid] = PendingRead{std::move(reply), copy_id(id)};
      if (node_->read_index(rid) != raft::RequestStatus::kOk) {
        pending_reads_[rid].reply(redirect(id), false);
        pending_reads_.erase(rid);
      }
      schedule_ready();
    }
  } else if (type == "append") {
    const msgpack::object* data = net::map_field(req, "data");
    if (!data || data->type != msgpack::type::MAP) {
      reply(net::error_response("field data must be a map {action, key, value}", id), true);
      return;
    }
    msgpack::sbuffer b;
    msgpack::pack(b, *data);
    std::string command(b.data(), b.size());
    if (Status s = KvStore::validate(command); !s.ok()) {
      reply(net::error_response(s.message(), id), true);
      return;
    }
    if (command.size() + 64 > opt_.max_datagram - kDatagramHeadroom) {
      reply(net::error_response("command of " + std::to_string(command.size()) + " bytes exceeds the datagram bound (--max-datagram)", id), true);
      return;
    }
    if (!leader) {
      reply(redirect(id), false);
      return;
    }
    answer_when_applied(node_->propose(StateMachine::tagged(StateMachine::Kind::kKeyValue, command)), id, std::move(reply));
  } else if (type == "config") {
    std::string action = net::as_string(net::map_field(req, "action"));
    const msgpack::object* learner = net::map_field(req, "learner");
    std::string why;
    auto addr = request_peer(req, &why);
    if ((action != "add" && action != "delete") || !addr) {
      reply(net::error_response(addr ? "field action must be add or delete" : "fields address and port must name a peer " + why, id), true);
      return;
    }
    if (!leader) {
      reply(redirect(id), false);
      return;
    }
    raft::ConfChange cc;
    cc.node = node_id_of(*addr);
    cc.context = addr->to_string();
    bool as_learner = learner && learner->type == msgpack::type::BOOLEAN && learner->via.boolean;
    cc.type = action == "delete" ? raft::ConfChangeType::kRemove
              : as_learner       ? raft::ConfChangeType::kAddLearner
                                 : raft::ConfChangeType::kAddVoter;
    answer_when_applied(node_->propose_conf_change(cc), id, std::move(reply));
  } else if (type == "transfer") {
    // Our own request: hand leadership to the peer at {address, port}.
    std::string why;
    auto addr = request_peer(req, &why);
    if (!addr) {
      reply(net::error_response("fields address and port must name a peer " + why, id), true);
      return;
    }
    if (!leader) {
      reply(redirect(id), false);
      return;
    }
    auto status = node_->transfer_leadership(node_id_of(*addr));
    reply(result(status == raft::RequestStatus::kOk, id,
                 status == raft::RequestStatus::kOk ? "" : raft::request_status_name(status)), false);
    schedule_ready();
  } else {
    reply(net::error_response("unknown request type '" + type + "'", id), true);
  }
}

// A proposal the node took is answered once its entry is applied (success if it is still ours).
void PeerDaemon::answer_when_applied(raft::RequestStatus status, const msgpack::object* id,
                                     net::ClientServer::Reply reply) {
  if (status != raft::RequestStatus::kOk) {
    reply(result(false, id, raft::request_status_name(status)), false);
    return;
  }
  pending_writes_[node_->last_index()] = PendingWrite{node_->term(), std::move(reply), copy_id(id)};
  schedule_ready();
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
  return PeerDaemon(options).run();
}

}  // namespace fednode
