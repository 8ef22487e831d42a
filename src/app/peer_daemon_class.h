#pragma once
// The peer daemon's class (private to src/app): peer_daemon.cpp holds its wiring, Ready handler
// and shutdown, peer_status.cpp its status pages (diagnostic, fl_status, /metrics).
#include "fednode/app/peer_daemon.h"


#include <asio.hpp>
#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "fednode/app/client_service.h"
#include "fednode/app/disk_guard.h"
#include "fednode/app/event_log.h"
#include "fednode/app/learner_eviction.h"
#include "fednode/app/self_admission.h"
#include "fednode/app/membership.h"
#include "fednode/app/node_identity.h"
#include "fednode/crypto/boot_epoch.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/node_key.h"
#include "fednode/app/round/role_controller.h"
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

namespace fednode::daemon {

// The live page's query ?rounds_after=N (live_status.cpp); 0 (everything) unless well formed.
std::uint64_t rounds_after(std::string_view query);

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
                                       net::ClientServer::Reply reply, net::ClientCaller caller,
                                       const std::string& caller_key) {
          on_client(req, type, id, std::move(reply), caller, caller_key);
        }),
        members_(self_id_, sm_.kv(), peers_, identity.key.has_value()),
        service_(*this, sm_.kv(), o.max_datagram - kDatagramHeadroom - 64, o.max_kv_bytes, o.max_voters),
        started_(Clock::now()),
        disk_(o.data_dir, o.min_free_bytes) {}

  int run() {
    if (Status s = start(); !s.ok()) {
      spdlog::error("{}", s.message());
      return 1;
    }
    io_.run();
    syncer_.reset();  // what it still holds is synced before it goes
    if (leaving_.joinable()) leaving_.join();
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
    fl::RaftView v = fl::raft_view_of(*node_, applied_, members_.member_ids());
    v.members_read_deflated_commands = std::all_of(v.members.begin(), v.members.end(), [&](raft::NodeId id) {
      return id == self_id_ || peers_.heard_packed_from(id);
    });
    return v;
  }
  bool propose(const std::string& command) override {  // the role controller's round commands
    if (!disk_.low().empty()) return false;
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
  Status start();  // peer_daemon_start.cpp, with the four steps below
  Status open_storage();
  void set_up_keys();
  Status make_node();
  Status make_round_services();
  Status start_live_view();
  void schedule_tick();
  void on_peer_message(const raft::Message& m) {
    // With the disk low, entries are not taken: the leader sees a follower that does not keep up.
    if (!disk_.low().empty() &&
        ((m.type == raft::MessageType::kAppend && !m.entries.empty()) || m.type == raft::MessageType::kSnapshotChunk)) {
      ++dropped_for_disk_;
      return;
    }
    auto dropped = node_->malformed_dropped();
    auto rolled_back = node_->followers_rolled_back();
    node_->step(m);
    if (node_->malformed_dropped() != dropped && malformed_warnings_.allow()) {
      spdlog::warn("dropped a malformed {} from peer {:x} (term {}, index {}, {} entries); {} so far",
                   raft::message_type_name(m.type), m.from, m.term, m.index, m.entries.size(), node_->malformed_dropped());
    }
    if (raft::Index until = node_->rolled_back_until(); until != rolled_back_until_) {
      if (until != 0) {
        spdlog::error("this node lacks log entries it had acknowledged (its data dir was rolled back, e.g. a backup "
                      "restored in place): it will not vote or campaign until it holds index {} (now {}). Restore a "
                      "node as a new member instead (docs/backup-and-restore.md)",
                      until, node_->last_index());
      } else {
        spdlog::info("caught up after the rollback: votes again (log at {})", node_->last_index());
      }
      rolled_back_until_ = until;
    }
    if (node_->followers_rolled_back() != rolled_back && rolled_back_warnings_.allow()) {
      spdlog::warn("peer {:x} lacks entries up to {} it had acknowledged (its data dir restored from a backup?): "
                   "probing it again from index {} at the next heartbeat",
                   m.from, m.index, m.reject_hint);
    }
    schedule_ready();
  }
  OncePer malformed_warnings_, rolled_back_warnings_;
  raft::Index rolled_back_until_ = 0;
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
                 net::ClientServer::Reply reply, net::ClientCaller caller, const std::string& caller_key) {
    service_.handle(req, type, id, std::move(reply), caller, caller_key);
    schedule_ready();
  }
  void process_ready();
  // ClientRaft: the client service's view of the node.
  bool is_leader() const override { return node_->role() == raft::Role::kLeader; }
  std::optional<PeerAddress> leader_address() const override { return members_.address(node_->leader()); }
  std::string leader_key() const override {
    return identity_.key && leader_address() ? members_.key_of(node_->leader()) : "";
  }
  std::string refuses_writes() const override { return disk_.low(); }
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
  std::vector<raft::NodeId> voter_ids() const override { return node_->conf_state().voters; }
  std::string member_key(raft::NodeId id) const override { return members_.key_of(id); }
  Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id,
                  std::string* member) const override {
    return members_.identify(address, key, id, member);
  }
  // raft::ReadyHandler: what the driver does with each Ready.
  Status persist(const raft::Ready& ready) override;
  Status persist_async(const raft::Ready& ready, bool* synced) override;
  void on_synced(const storage::SyncReport& report);
  Status install(const raft::Snapshot& snapshot) override;
  void send(const raft::Message& m) override { peers_.send(m); }
  Status apply(const raft::Entry& e) override;
  void read_ready(const raft::ReadState& read) override;
  void applied_batch() override { service_.serve_reads(applied_); }
  Status snapshot(const raft::ConfState& conf) override;
  std::string diagnostic(const msgpack::object* id);
  std::string fl_status(const msgpack::object* id);
  void pack_training(msgpack::packer<msgpack::sbuffer>& p) const;
  std::string metrics_text() const;
  // live_status.cpp: rounds (and their commit events) after `rounds_after` only, so an open page
  // polls what changed, not a months-long run's whole history.
  std::string api_status(std::uint64_t rounds_after) const;
  struct RoundJson {
    std::uint64_t round = 0, version = 0;
    std::string json;
  };
  mutable std::vector<RoundJson> round_json_;  // each committed round's JSON for the live page
  // When this node applied the latest round commit (its monotonic clock), for the stall alert.
  std::uint64_t round_seen_ = 0;
  Clock::time_point round_seen_at_ = Clock::now();
  // The peer channel's counters, with the well-formed datagrams whose message the core dropped.
  net::ChannelCounters raft_counters() const {
    net::ChannelCounters c = peers_.counters();
    c.dropped_in += node_->malformed_dropped();
    return c;
  }
  void shutdown(int signo);
  void stop_after_leaving();
  void evict_silent_learner();
  void learn_seed_members(const std::vector<std::string>& found);
  bool is_member() const {
    const auto& c = node_->conf_state();
    return std::find(c.voters.begin(), c.voters.end(), self_id_) != c.voters.end() ||
           std::find(c.learners.begin(), c.learners.end(), self_id_) != c.learners.end();
  }
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
  std::chrono::steady_clock::time_point next_tick_{};
  asio::signal_set signals_;
  net::PeerTransport peers_;
  net::ClientServer clients_;
  std::unique_ptr<storage::DurableStorage> storage_;
  std::unique_ptr<raft::Node> node_;
  // Declared after the storage and the node, so destroyed before them: it syncs what it holds.
  std::unique_ptr<storage::BackgroundSync> syncer_;
  StateMachine sm_;
  EventLog events_;
  // The round's services (make_round_services), declared before the controller that uses them.
  std::unique_ptr<fl::ModelStore> models_;
  std::unique_ptr<net::DataPlaneServer> data_plane_;
  std::unique_ptr<JobThreads> jobs_;
  std::unique_ptr<RoleController> controller_;
  std::unique_ptr<net::MetricsHttpServer> metrics_;
  std::unique_ptr<SelfAdmission> admission_;  // --join
  bool admitted_ = false;
  std::optional<LearnerEviction> eviction_;  // --evict-after
  std::uint64_t ticks_ = 0;
  std::thread leaving_;
  std::uint64_t leader_changes_ = 0, snapshots_installed_ = 0;
  bool was_leading_ = false;  // for the 'leadership lost' line and event
  raft::NodeId known_leader_ = raft::kNoNode;
  bool polling_ = false;
  bool in_ready_ = false;
  raft::Index applied_ = 0;
  Membership members_;
  ClientService service_;
  Clock::time_point started_;
  DiskGuard disk_;  // --min-free-bytes under the data dir, checked every second
  unsigned disk_check_ms_ = 0;
  std::uint64_t dropped_for_disk_ = 0;
  void check_disk();
  bool stopping_ = false;
  bool ready_scheduled_ = false;
  int exit_code_ = 0;
};

}  // namespace fednode::daemon
