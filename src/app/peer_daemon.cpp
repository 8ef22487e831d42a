// The peer daemon: one asio io_context thread (the control loop) owns the Raft node, its
// storage, the UDP peer channel, the TCP client channel, the tick timer, the replicated state
// machine (key-value map + FL rounds) and the role controller (which owns the data plane).
// After every input it drains the node's Ready: persist, send, apply, then lets the role
// controller act on what changed. Its start (the wiring) is in peer_daemon_start.cpp.
#include "peer_daemon_class.h"

#include "fednode/app/data_dir_format.h"
#include "fednode/app/data_dir_owner.h"

#include <algorithm>
#include <chrono>

#include <sys/resource.h>
#include <sys/stat.h>

namespace fednode {
namespace daemon {

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
    if ((disk_check_ms_ += opt_.tick_ms) >= 1000) {
      disk_check_ms_ = 0;
      check_disk();
    }
    schedule_ready();
    schedule_tick();
  });
}

// statvfs of a local file system, once a second: quick enough for the control loop.
void PeerDaemon::check_disk() {
  switch (disk_.check()) {
    case DiskGuard::Change::kLow:
      spdlog::warn("{}", disk_.low());
      events_.write("disk_low", JsonLine().add("available", disk_.available()).add("min_free", opt_.min_free_bytes));
      break;
    case DiskGuard::Change::kBack:
      spdlog::info("data dir {} has {} MiB free again: taking writes, uploads and log entries ({} appends dropped meanwhile)",
                   opt_.data_dir, disk_.available() >> 20, dropped_for_disk_);
      events_.write("disk_back", JsonLine().add("available", disk_.available()).add("appends_dropped", dropped_for_disk_));
      dropped_for_disk_ = 0;
      break;
    case DiskGuard::Change::kNone:
      break;
  }
  if (disk_.low().empty() || node_->role() != raft::Role::kLeader) return;
  // A leader that cannot write hands over to the voter furthest along that is still answering.
  raft::NodeId best = raft::kNoNode;
  raft::Index best_match = 0;
  for (const auto& f : node_->followers()) {
    if (!f.learner && f.recent_active && f.id != self_id_ && (best == raft::kNoNode || f.match > best_match)) {
      best = f.id;
      best_match = f.match;
    }
  }
  if (best == raft::kNoNode) return;
  if (node_->transfer_leadership(best) == raft::RequestStatus::kOk) {
    spdlog::info("handing leadership to {}: this node's disk is low", members_.address_of(best));
    schedule_ready();
  }
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
  if (!r.error.empty()) {
    storage_->sync_failed(r.error);
    return fatal(Status::error(storage_->broken()));
  }
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
  if (node_->role() != raft::Role::kLeader || !disk_.low().empty()) return;  // a low disk proposes nothing
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
    if (admission_->added_itself()) return stop_after_leaving();
    spdlog::info("stopping without leaving the group: this node did not add itself in this run (an operator added it, "
                 "or it restarted as a member); remove-peer removes it, as --evict-after does");
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
  // A dir of a later format, or of another group, is refused before anything is written to it;
  // a dir of this group in an earlier format is then migrated (and before the boot epoch).
  int found_format = 0;
  if (Status s = read_data_dir_format(options.data_dir, &found_format); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  if (Status s = check_cluster_id(options.data_dir, options.cluster_id); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  DataDirFormat format;
  if (Status s = migrate_data_dir(options.data_dir, found_format, &format); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  if (!format.done.empty()) {
    spdlog::info("{}: data dir format {} migrated to {} ({})", options.data_dir, format.found, format.now, format.done);
  }
  Identity identity;
  if (Status s = establish_identity(options, &identity); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  return daemon::PeerDaemon(options, identity).run();
}

}  // namespace fednode
