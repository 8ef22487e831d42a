// Raft, log replication (§5.3, §7): the follower's handling of appends, heartbeats and
// snapshot chunks, and the leader's side: progress, commitment, membership entries, sending.
// Elections, timers, dispatch and client requests are in raft.cpp.
#include "raft.h"

#include <algorithm>
#include <cassert>

#include "fednode/raft/conf_change.h"
#include "message_check.h"

namespace fednode::raft {

// ---- follower side of replication -----------------------------------------------------------

void Raft::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppendResponse;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    resp.index = log_.committed();
    send(std::move(resp));
    return;
  }
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    after_commit_advanced();
    resp.index = *last_new;
  } else {
    // Fast backtracking: the largest index <= the probe whose term is <= the leader's term there.
    Index hint = std::min(m.index, log_.last_index());
    auto [hint_index, hint_term] = log_.find_conflict_by_term(hint, m.log_term);
    resp.index = m.index;
    resp.reject = true;
    resp.reject_hint = hint_index;
    resp.log_term = hint_term;
  }
  send(std::move(resp));
}

void Raft::handle_heartbeat(const Message& m) {
  if (m.commit > log_.last_index()) {
    // A heartbeat's commit never passes what the leader knows this node holds: this node
    // acknowledged entries it no longer has (its data dir was restored from a backup). It says
    // where its log ends, as a rejected append would, and the leader probes it from there.
    Message lost;
    lost.type = MessageType::kAppendResponse;
    lost.to = m.from;
    lost.index = m.commit;
    lost.reject = true;
    lost.reject_hint = log_.last_index();
    lost.log_term = log_.term(lost.reject_hint).value_or(0);
    lost.context = kLostEntriesContext;
    send(std::move(lost));
    // Its term and vote may have rolled back too: it may have voted in this very term before.
    // So it votes in no term up to this one (the vote for itself says so, durably), and in none
    // at all, nor campaigns, until it holds what the leader counts on.
    rolled_back_until_ = std::max(rolled_back_until_, m.commit);
    if (vote_ == kNoNode) vote_ = config_.id;
    // Nor does it commit from this heartbeat: its restored log may end in entries the group
    // overwrote since. The leader's next append checks the log and carries the commit.
    return;
  }
  log_.commit_to(std::min(m.commit, log_.last_index()));
  after_commit_advanced();
  if (m.context == 0 && quiet_ticks_ < heartbeat_answer_ticks_) return;  // the next one is answered
  Message resp;
  resp.type = MessageType::kHeartbeatResponse;
  resp.to = m.from;
  resp.context = m.context;
  send(std::move(resp));
}

void Raft::handle_snapshot_chunk(const Message& m) {
  Message ack;
  ack.to = m.from;
  if (m.snapshot.index <= log_.committed()) {
    // Already have everything it covers: tell the leader where we are.
    ack.type = MessageType::kAppendResponse;
    ack.index = log_.committed();
    send(std::move(ack));
    return;
  }
  if (!(m.snapshot == incoming_meta_)) {
    incoming_meta_ = m.snapshot;  // a new stream; a late chunk of the same one changes nothing
    incoming_data_.clear();
  }
  if (m.offset == incoming_data_.size()) {
    if (incoming_data_.size() + m.data.size() > config_.max_snapshot_bytes) {
      ++malformed_dropped_;  // a stream longer than any snapshot we accept: forget it
      incoming_meta_ = SnapshotMeta{};
      incoming_data_.clear();
      return;
    }
    incoming_data_ += m.data;
    if (m.done) {
      Snapshot snapshot{incoming_meta_, std::move(incoming_data_)};
      incoming_meta_ = SnapshotMeta{};
      incoming_data_.clear();
      ack.type = MessageType::kAppendResponse;
      if (config_.snapshot_acceptable && !config_.snapshot_acceptable(snapshot.data)) {
        ++malformed_dropped_;
        ack.index = log_.committed();
        send(std::move(ack));
        return;
      }
      ack.index = restore(snapshot) ? log_.last_index() : log_.committed();
      send(std::move(ack));
      return;
    }
  }
  ack.type = MessageType::kSnapshotChunkResponse;
  ack.snapshot = incoming_meta_;
  ack.offset = incoming_data_.size();  // bytes received in order so far
  send(std::move(ack));
}

bool Raft::restore(const Snapshot& snapshot) {
  if (snapshot.meta.index <= log_.committed()) return false;
  if (log_.match_term(snapshot.meta.index, snapshot.meta.term)) {
    // Our log already holds the snapshot's last entry: just move the commit index (§7).
    log_.commit_to(snapshot.meta.index);
    after_commit_advanced();
    return false;
  }
  log_.restore(snapshot);
  conf_ = snapshot.meta.conf;
  conf_applied_index_ = snapshot.meta.index;
  rebuild_progress();
  return true;
}

// ---- leader side ----------------------------------------------------------------------------

void Raft::step_leader(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;  // not (or no longer) a member
  Progress& pr = it->second;
  pr.quiet_ticks = 0;
  switch (m.type) {
    case MessageType::kAppendResponse: handle_append_response(m, pr); break;
    case MessageType::kHeartbeatResponse: handle_heartbeat_response(m, pr); break;
    case MessageType::kSnapshotChunkResponse: handle_snapshot_chunk_response(m, pr); break;
    default: break;
  }
}

void Raft::handle_append_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.heard = true;
  if (m.reject) {
    Index hint = m.reject_hint;
    if (m.log_term > 0) hint = log_.find_conflict_by_term(m.reject_hint, m.log_term).first;
    // At or below match: a follower that lost entries it acknowledged. A probe's rejection, or
    // the one a heartbeat drew, says so for sure; a pipelined append's may be a late one, and
    // replication carries on.
    bool sure = pr.state == ReplicationState::kProbe || m.context == kLostEntriesContext;
    if (sure && pr.follower_lost_entries(m.index, hint)) {
      ++followers_rolled_back_;
      return;
    }
    if (pr.maybe_decrease_to(m.index, hint)) {
      if (pr.state == ReplicationState::kReplicate) pr.become_probe();
      send_append(m.from);
    }
    return;
  }
  bool was_paused = pr.paused(config_.max_inflight_appends);
  if (!pr.maybe_update(m.index)) return;
  switch (pr.state) {
    case ReplicationState::kProbe: pr.become_replicate(); break;
    case ReplicationState::kSnapshot:
      if (pr.match >= pr.snapshot->meta.index) {
        pr.become_probe();
        pr.become_replicate();
      }
      break;
    case ReplicationState::kReplicate: pr.free_inflight_up_to(m.index); break;
  }
  Index match = pr.match;
  // Careful: committing may apply a membership change that rebuilds progress_ (pr dangles) or
  // makes us step down.
  if (maybe_commit()) {
    append_due_ = true;  // the others hear of the commit at the end of the turn
  } else if (was_paused) {
    send_append(m.from);
  }
  if (role_ != Role::kLeader) return;
  // Keep the pipe full while the window allows.
  while (send_append(m.from, false)) {
  }
  if (m.from == transfer_target_ && match == log_.last_index()) {
    Message now;
    now.type = MessageType::kTimeoutNow;
    now.to = m.from;
    send(std::move(now));
  }
}

void Raft::handle_heartbeat_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.heard = true;
  pr.probe_sent = false;
  if (pr.state == ReplicationState::kReplicate && pr.inflight.size() >= config_.max_inflight_appends) {
    pr.inflight.pop_front();  // an append was probably lost; let one more through
  }
  if (pr.match < log_.last_index()) send_append(m.from);
  if (m.context != 0) {
    for (auto& read : reads_) {
      if (read.context != m.context) continue;
      read.acks.insert(m.from);
      std::size_t voters = 0;
      for (NodeId id : read.acks) voters += contains_voter(id) ? 1 : 0;
      if (voters >= majority(conf_.voters.size())) release_reads_up_to(m.context);
      break;
    }
  }
}

void Raft::handle_snapshot_chunk_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.heard = true;
  if (pr.state != ReplicationState::kSnapshot) return;
  if (!(m.snapshot == pr.snapshot->meta)) {
    // The follower is assembling another snapshot: restart the stream from zero.
    pr.become_snapshot(pr.snapshot);
    send_snapshot_chunks(m.from, pr);
    return;
  }
  // Acks may arrive late or twice; only progress matters. Lost chunks are resent from the last
  // ack on the next heartbeat, never on a stale ack (that would multiply traffic).
  pr.snapshot_reported = m.offset;
  if (m.offset <= pr.snapshot_acked) return;
  pr.snapshot_acked = m.offset;
  send_snapshot_chunks(m.from, pr);
}

void Raft::append_entries(std::vector<Entry> entries) {
  Index last = log_.last_index();
  for (auto& e : entries) {
    e.term = term_;
    e.index = ++last;
    uncommitted_bytes_ += entry_size(e);
  }
  log_.append(entries);
  // Counted once durable (synced_through, persisted_in_background).
  if (config_.async_leader_persist && !config_.bugs.count_own_copy_before_durable) return;
  progress_[config_.id].maybe_update(log_.last_index());
  if (maybe_commit()) append_due_ = true;
}

Index Raft::self_match() const {
  return config_.async_leader_persist ? std::min(durable_, log_.last_index()) : log_.last_index();
}

void Raft::synced_through(Index index) {
  durable_ = index;
  count_own_copy();
}

void Raft::persisted_in_background(Index index, Term term) {
  // Same index and term: the same entry (and log) as written, by the log matching property.
  if (index <= durable_ || !log_.match_term(index, term)) return;
  durable_ = index;
  count_own_copy();
}

void Raft::count_own_copy() {
  if (role_ != Role::kLeader || !config_.async_leader_persist) return;
  auto self = progress_.find(config_.id);
  if (self != progress_.end() && self->second.maybe_update(self_match()) && maybe_commit()) append_due_ = true;
}

Index Raft::quorum_match_index() const {
  std::vector<Index> matches;
  for (const auto& [id, pr] : progress_) {
    if (!pr.learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return 0;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[matches.size() / 2];
}

bool Raft::maybe_commit() {
  Index candidate = quorum_match_index();
  if (candidate <= log_.committed()) return false;
  // §5.4.2: only an entry of the leader's own term is committed by counting replicas.
  if (!config_.bugs.commit_previous_term_by_counting && log_.term(candidate) != term_) return false;
  for (const auto& e : log_.slice(log_.committed() + 1, candidate + 1, SIZE_MAX)) {
    uncommitted_bytes_ -= std::min(uncommitted_bytes_, entry_size(e));
  }
  log_.commit_to(candidate);
  after_commit_advanced();
  return true;
}

void Raft::after_commit_advanced() {
  apply_committed_conf_changes();
  if (role_ == Role::kLeader && !reads_waiting_for_commit_.empty() &&
      log_.term(log_.committed()) == term_) {
    auto waiting = std::move(reads_waiting_for_commit_);
    reads_waiting_for_commit_.clear();
    for (auto id : waiting) start_read(id);
  }
}

void Raft::apply_committed_conf_changes() {
  while (conf_applied_index_ < log_.committed()) {
    Index i = conf_applied_index_ + 1;
    auto entries = log_.slice(i, log_.committed() + 1, 1u << 20);
    if (entries.empty()) break;
    for (const auto& e : entries) {
      if (e.index <= conf_applied_index_) continue;  // a nested call got here first
      conf_applied_index_ = e.index;
      if (e.type != EntryType::kConfChange) continue;
      auto change = decode_conf_change(e.data);
      if (change && conf_change_is_valid(conf_, *change)) change_membership(*change);
    }
  }
}

void Raft::change_membership(const ConfChange& change) {
  conf_ = apply_conf_change(conf_, change);
  rebuild_progress();
  if (role_ != Role::kLeader) return;
  if (!promotable()) {
    // Removed (or demoted): a leader steps down once the change is committed (thesis §4.2.2).
    become_follower(term_, kNoNode, "removed from the voters by a committed change");
    return;
  }
  if (transfer_target_ != kNoNode && !contains_voter(transfer_target_)) abort_transfer();
  // The quorum changed: entries may now be committed, and new members need the log.
  if (maybe_commit()) {
    broadcast_append();
  } else {
    for (auto& [id, pr] : progress_) {
      if (id != config_.id && pr.match == 0 && !pr.probe_sent) send_append(id);
    }
  }
}

void Raft::send(Message m) {
  m.from = config_.id;
  if (m.to == leader_) quiet_ticks_ = 0;
  if (m.term == 0) m.term = term_;
  outbox_.push_back(std::move(m));
}

bool Raft::send_append(NodeId to, bool send_if_empty) {
  if (role_ != Role::kLeader) return false;
  auto it = progress_.find(to);
  if (it == progress_.end() || to == config_.id) return false;
  Progress& pr = it->second;
  if (pr.paused(config_.max_inflight_appends)) return false;
  auto prev_term = log_.term(pr.next - 1);
  std::vector<Entry> entries;
  if (pr.next <= log_.last_index()) entries = log_.slice(pr.next, log_.last_index() + 1, config_.max_message_bytes);
  bool compacted = !prev_term || (pr.next <= log_.last_index() && entries.empty());
  if (compacted) {
    // The entries this follower needs are gone: stream the latest snapshot instead (§7).
    auto snap = latest_snapshot();
    if (snap->empty()) return false;
    pr.become_snapshot(std::move(snap));
    send_snapshot_chunks(to, pr);
    return false;
  }
  if (entries.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = pr.next - 1;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  pr.commit_sent = std::max(pr.commit_sent, m.commit);
  if (!entries.empty()) {
    Index last = entries.back().index;
    if (pr.state == ReplicationState::kReplicate) {
      pr.next = last + 1;
      pr.inflight.push_back(last);
    } else {
      pr.probe_sent = true;
    }
  } else if (pr.state == ReplicationState::kProbe) {
    pr.probe_sent = true;
  }
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

void Raft::send_snapshot_chunks(NodeId to, Progress& pr) {
  const Snapshot& snap = *pr.snapshot;
  const std::size_t chunk = std::max<std::size_t>(config_.max_message_bytes, 1);
  const std::uint64_t size = snap.data.size();
  while (!pr.snapshot_done_sent &&
         pr.snapshot_sent < pr.snapshot_acked + config_.max_inflight_chunks * chunk) {
    Message m;
    m.type = MessageType::kSnapshotChunk;
    m.to = to;
    m.snapshot = snap.meta;
    m.offset = pr.snapshot_sent;
    auto len = std::min<std::uint64_t>(chunk, size - pr.snapshot_sent);
    m.data = snap.data.substr(pr.snapshot_sent, len);
    m.done = pr.snapshot_sent + len == size;
    pr.snapshot_sent += len;
    pr.snapshot_done_sent = m.done;
    send(std::move(m));
  }
}

std::shared_ptr<const Snapshot> Raft::latest_snapshot() {
  const Snapshot& stored = storage_.snapshot();
  if (!snapshot_cache_ || !(snapshot_cache_->meta == stored.meta)) {
    snapshot_cache_ = std::make_shared<const Snapshot>(stored);
  }
  return snapshot_cache_;
}

void Raft::flush_appends() {
  if (!append_due_) return;
  append_due_ = false;
  if (role_ != Role::kLeader) return;
  // New entries go to every follower whose window allows; the commit alone only to those that
  // have not heard it in this turn's appends.
  for (auto& [id, pr] : progress_) {
    if (id == config_.id || send_append(id, false) || pr.commit_sent >= log_.committed()) continue;
    if (pr.state == ReplicationState::kReplicate && pr.match >= log_.committed()) {
      send_commit(id, pr);
    } else {
      send_append(id, true);
    }
  }
}

// A follower known to hold every committed entry learns the commit index from a heartbeat: it
// answers a heartbeat only when it has been quiet, so this costs one datagram, where an empty
// append costs two (its answer tells the leader nothing it does not know).
void Raft::send_commit(NodeId to, Progress& pr) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = log_.committed();
  pr.commit_sent = m.commit;
  send(std::move(m));
}

void Raft::broadcast_append() {
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id) send_append(id);
  }
}

void Raft::broadcast_heartbeat(std::uint64_t context) {
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id) send_heartbeat(id, pr, context);
  }
}

void Raft::send_heartbeat(NodeId to, const Progress& pr, std::uint64_t context) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never tell a follower to commit beyond what it is known to hold.
  m.commit = std::min(pr.match, log_.committed());
  m.context = context;
  send(std::move(m));
}

// A follower answers every heartbeat unless it has just sent the leader something; one that has
// sent nothing since the tick before the last heartbeat may not have it.
void Raft::resend_unanswered_heartbeats() {
  int every = config_.heartbeat_resend_ticks;
  if (every <= 0 || heartbeat_elapsed_ == 0 || heartbeat_elapsed_ % every != 0) return;
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id && pr.quiet_ticks > heartbeat_elapsed_ + 1) send_heartbeat(id, pr, 0);
  }
}

}  // namespace fednode::raft
