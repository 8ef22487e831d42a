// The peer daemon: one asio io_context thread (the control loop) owns the Raft node, its
// storage, the UDP peer channel, the TCP client channel, the tick timer, the replicated state
// machine (key-value map + FL rounds) and the role controller (which owns the data plane).
// After every input it drains the node's Ready: persist, send, apply, then lets the role
// controller act on what changed.
#include "peer_daemon_class.h"

#include "fednode/app/data_dir_owner.h"
#include "fednode/app/web_assets.h"

#include <algorithm>
#include <chrono>

#include <sys/resource.h>
#include <sys/stat.h>

namespace fednode {
namespace daemon {

Status PeerDaemon::start() {
  if (Status s = check_cluster_id(opt_.data_dir, opt_.cluster_id); !s.ok()) return s;
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

  raft::Config c;
  c.id = self_id_;
  c.heartbeat_ticks = static_cast<int>(opt_.heartbeat_ms / opt_.tick_ms);
  c.heartbeat_resend_ticks = static_cast<int>(opt_.heartbeat_resend_ms / opt_.tick_ms);
  c.election_ticks_min = static_cast<int>(opt_.election_timeout_min_ms / opt_.tick_ms);
  c.election_ticks_max = static_cast<int>(opt_.election_timeout_max_ms / opt_.tick_ms);
  c.max_message_bytes = opt_.max_datagram - kDatagramHeadroom;
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

  if (Status s = events_.open(opt_.data_dir + "/events.jsonl", opt_.self.to_string()); !s.ok()) return s;
  if (Status s = peers_.bind(opt_.self); !s.ok()) return s;
  if (Status s = clients_.listen(opt_.self); !s.ok()) return s;
  controller_ = std::make_unique<RoleController>(io_, *this, opt_, events_);
  if (Status s = controller_->start(); !s.ok()) return s;
  if (opt_.metrics_port != 0) {
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
    bool self_loopback = asio::ip::make_address(opt_.self.host, ec).is_loopback() && !ec;
    if (asio::ip::make_address(opt_.metrics_bind, ec).is_loopback() && !ec && !self_loopback) {
      spdlog::warn("the metrics port listens on {} only (the default since 0.2): Prometheus on another machine needs "
                   "--metrics-bind {}", opt_.metrics_bind, opt_.self.host);
    }
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

// Ticks keep a fixed cadence on the monotonic clock: timed from the end of the last handler they
// would run late by its latency every time (a loaded machine stretched a 300 ms election timeout
// by tens of ms). After a stall the next tick is due at once, without a burst of missed ones: a
// burst could time out a follower before it reads the heartbeats queued meanwhile.
void PeerDaemon::schedule_tick() {
  auto now = std::chrono::steady_clock::now();
  if (next_tick_ == std::chrono::steady_clock::time_point{}) next_tick_ = now;
  next_tick_ = std::max(next_tick_ + std::chrono::milliseconds(opt_.tick_ms), now);
  tick_timer_.expires_at(next_tick_);
  tick_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    node_->tick();
    if (eviction_ && ++ticks_ % 10 == 0) evict_silent_learner();
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
  if (admission_ && !admitted_ && is_member()) {
    admitted_ = true;
    admission_->admitted();
    events_.write("admitted", JsonLine().add("applied", applied_));
  }
  if (sm_.rounds().last_round() != round_seen_) {
    round_seen_ = sm_.rounds().last_round();
    round_seen_at_ = Clock::now();
  }
  if (node_->leader() != known_leader_) {
    known_leader_ = node_->leader();
    if (known_leader_ != raft::kNoNode) {
      ++leader_changes_;
      events_.write("leader_changed", JsonLine().add("leader", members_.address_of(known_leader_)).add("term", node_->term()));
    }
  }
  bool leading = node_->role() == raft::Role::kLeader;
  if (was_leading_ && !leading) {
    spdlog::info("leadership lost in term {}: {}", node_->term(), node_->step_down_reason());
    events_.write("leadership_lost", JsonLine().add("term", node_->term()).add("reason", node_->step_down_reason()));
  }
  was_leading_ = leading;
  if (controller_ && !polling_) {
    polling_ = true;
    controller_->poll();
    polling_ = false;
  }
  // A node that lost leadership cannot confirm reads any more.
  if (node_->role() != raft::Role::kLeader) service_.leadership_lost();
}

Status PeerDaemon::persist(const raft::Ready& rd) { return storage_->save(rd); }

Status PeerDaemon::persist_async(const raft::Ready& rd, bool* synced) {
  // One entry: nothing else is waiting on this loop, and handing the sync to the thread and
  // back would only add two wake-ups to the write's path. Under load a Ready carries several.
  if (rd.entries.size() == 1) {
    *synced = true;
    return storage_->save(rd);
  }
  storage::SyncJob job;
  if (Status s = storage_->save_async(rd, &job); !s.ok()) return s;
  *synced = job.fd < 0;
  if (!*synced) syncer_->submit(std::move(job));
  return {};
}

void PeerDaemon::on_synced(const storage::SyncReport& r) {
  if (!r.error.empty()) return fatal(Status::error(r.error));
  storage_->record_sync(r.seconds);
  node_->persisted(r.index, r.term);
  schedule_ready();
}

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

// A joiner learns the members' addresses and keys from a seed before it is in the log, so that
// it can take the leader's first datagrams (they come from a node it has never heard of).
void PeerDaemon::learn_seed_members(const std::vector<std::string>& found) {
  for (const std::string& member : found) {
    auto eq = member.find('=');
    std::string why, key = eq == std::string::npos ? "" : member.substr(eq + 1);
    auto address = parse_peer_address(member.substr(0, eq), &why);
    raft::NodeId id = 0;
    std::string text;
    if (!address || !members_.identify(*address, key, &id, &text).ok()) continue;
    if (id != self_id_ && members_.address_of(id).empty()) members_.learn_address(id, text);
  }
}

void PeerDaemon::evict_silent_learner() {
  if (node_->role() != raft::Role::kLeader) return;
  auto now = Clock::now();
  auto id = eviction_->observe(now, node_->term(), node_->followers());
  if (!id) return;
  raft::ConfChange cc{raft::ConfChangeType::kRemove, *id, ""};
  auto status = node_->propose_conf_change(cc);
  std::string address = members_.address_of(*id);
  if (status != raft::RequestStatus::kOk) {
    spdlog::info("learner {:x} at {} is silent, but its removal waits: {}", *id, address, raft::request_status_name(status));
    return;
  }
  spdlog::warn("evicting learner {:x} at {}: no answer for {:.1f} s (--evict-after)", *id, address, opt_.evict_after_s);
  events_.write("evicted", JsonLine().add("evicted", address).add("silent_s", opt_.evict_after_s).add("term", node_->term()));
  schedule_ready();
}

// A learner that joined by itself asks to be removed before it stops, so the leader does not
// count on it for the next round; the request blocks, on a thread, while the loop keeps Raft
// going.
void PeerDaemon::stop_after_leaving() {
  std::optional<SeedPeer> leader;
  if (auto addr = members_.address(node_->leader())) leader = SeedPeer{*addr, members_.key_of(node_->leader())};
  leaving_ = std::thread([this, leader] {
    Status s = admission_->ask("delete", leader, std::chrono::milliseconds(1500));
    if (s.ok()) {
      spdlog::info("left the group: the leader removed this node");
    } else {
      spdlog::warn("could not leave the group before stopping ({}); the leader removes silent learners with --evict-after",
                   s.message());
    }
    asio::post(io_, [this] { io_.stop(); });
  });
}

void PeerDaemon::shutdown(int signo) {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("signal {}: shutting down", signo);
  if (controller_) controller_->stop();
  if (admission_) admission_->stop();
  const auto& conf = node_->conf_state();
  if (admission_ && std::find(conf.learners.begin(), conf.learners.end(), self_id_) != conf.learners.end()) {
    if (!admission_->added_by_operator()) return stop_after_leaving();
    spdlog::info("stopping without leaving the group: an operator added this node (remove-peer removes it)");
  }
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

}  // namespace daemon

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
  return daemon::PeerDaemon(options, identity).run();
}

}  // namespace fednode
