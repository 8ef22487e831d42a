#include "raft.h"

#include <algorithm>
#include <cassert>

#include "fednode/raft/conf_change.h"
#include "message_check.h"

namespace fednode::raft {
namespace {

constexpr std::uint64_t kTransferCampaign = 1;  // Message::context of a forced vote request

bool is_vote_request(MessageType t) { return t == MessageType::kVote || t == MessageType::kPreVote; }

bool from_leader(MessageType t) {
  return t == MessageType::kAppend || t == MessageType::kHeartbeat ||
         t == MessageType::kSnapshotChunk;
}

}  // namespace

Raft::Raft(const Config& config, const Storage& storage)
    : config_(config), storage_(storage), log_(storage), rng_(config.random_seed * 0x9e3779b97f4a7c15ull + config.id) {
  assert(config_.id != kNoNode);
  assert(config_.heartbeat_ticks > 0 && config_.election_ticks_min > config_.heartbeat_ticks);
  assert(config_.election_ticks_max > config_.election_ticks_min);
  HardState hs = storage.hard_state();
  term_ = hs.term;
  vote_ = hs.vote;
  conf_ = storage.snapshot().meta.conf;
  conf_applied_index_ = storage.snapshot().meta.index;
  apply_committed_conf_changes();
  become_follower(term_, kNoNode);
}

std::uint64_t Raft::next_random() { return rng_.next(); }

HardState Raft::hard_state() const {
  HardState hs{term_, vote_, log_.committed()};
  if (config_.bugs.forget_to_persist_vote) hs.vote = kNoNode;
  return hs;
}

bool Raft::contains_voter(NodeId id) const { return contains(conf_.voters, id); }

// ---- timers ---------------------------------------------------------------------------------

void Raft::reset_election_timeout() {
  auto span = static_cast<std::uint64_t>(config_.election_ticks_max - config_.election_ticks_min);
  randomized_election_timeout_ = config_.election_ticks_min + static_cast<int>(next_random() % span);
}

void Raft::tick() {
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    hup(false);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks_min) {
    election_elapsed_ = 0;
    // Check-quorum (thesis §6.2): a leader that has not heard from a majority steps down.
    if (config_.check_quorum && !quorum_active()) {
      become_follower(term_, kNoNode);
      return;
    }
    if (transfer_target_ != kNoNode) abort_transfer();  // the transfer took too long
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(0);
    // Snapshot streams that made no progress since the last beat resume from the last ack.
    for (auto& [id, pr] : progress_) {
      if (id == config_.id || pr.state != ReplicationState::kSnapshot) continue;
      if (pr.snapshot_acked == pr.snapshot_acked_at_last_beat) {
        // No progress for a beat: resume from what the follower last said it holds (it may
        // have lost its partial copy in a restart).
        pr.snapshot_acked = std::min(pr.snapshot_acked, pr.snapshot_reported);
        pr.snapshot_sent = pr.snapshot_acked;
        pr.snapshot_done_sent = false;
      }
      pr.snapshot_acked_at_last_beat = pr.snapshot_acked;
      send_snapshot_chunks(id, pr);
    }
  }
}

bool Raft::quorum_active() {
  std::size_t active = 0;
  for (auto& [id, pr] : progress_) {
    if (pr.learner) continue;
    if (id == config_.id || pr.recent_active) ++active;
    pr.recent_active = false;
  }
  return active >= majority(conf_.voters.size());
}

// ---- elections ------------------------------------------------------------------------------

void Raft::hup(bool transfer) {
  if (role_ == Role::kLeader || !promotable()) return;
  // A node that has not applied a committed membership change might campaign under the wrong
  // configuration; our conf_ already reflects every committed change, so no check is needed.
  if (transfer) {
    start_campaign(CampaignKind::kTransfer);
  } else if (config_.pre_vote) {
    start_campaign(CampaignKind::kPreElection);
  } else {
    start_campaign(CampaignKind::kElection);
  }
}

void Raft::start_campaign(CampaignKind kind) {
  Term term;
  MessageType type;
  if (kind == CampaignKind::kPreElection) {
    become_pre_candidate();
    type = MessageType::kPreVote;
    term = term_ + 1;  // the term we would campaign in; ours does not change yet
  } else {
    become_candidate();
    type = MessageType::kVote;
    term = term_;
  }
  if (poll(config_.id, true) > 0) {  // a group of one
    if (kind == CampaignKind::kPreElection) {
      start_campaign(CampaignKind::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId id : conf_.voters) {
    if (id == config_.id) continue;
    Message m;
    m.type = type;
    m.to = id;
    m.term = term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.context = kind == CampaignKind::kTransfer ? kTransferCampaign : 0;
    send(std::move(m));
  }
}

int Raft::poll(NodeId from, bool granted) {
  if (!contains_voter(from)) return 0;
  votes_.emplace(from, granted);
  std::size_t yes = 0, no = 0;
  for (const auto& [id, g] : votes_) (g ? yes : no)++;
  std::size_t quorum = majority(conf_.voters.size());
  if (yes >= quorum) return 1;
  if (no >= quorum || conf_.voters.size() - no < quorum) return -1;
  return 0;
}

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_election_timeout();
  abort_transfer();
  votes_.clear();
  pending_conf_index_ = 0;
  uncommitted_bytes_ = 0;
  reads_.clear();
  reads_waiting_for_commit_.clear();
  rebuild_progress();
}

void Raft::rebuild_progress() {
  std::map<NodeId, Progress> fresh;
  auto add = [&](NodeId id, bool learner) {
    Progress pr;
    auto old = progress_.find(id);
    if (old != progress_.end() && role_ == Role::kLeader) pr = old->second;  // keep while leading
    else {
      pr.next = log_.last_index() + 1;
      pr.match = id == config_.id ? log_.last_index() : 0;
    }
    pr.learner = learner;
    fresh.emplace(id, std::move(pr));
  };
  for (NodeId id : conf_.voters) add(id, false);
  for (NodeId id : conf_.learners) add(id, true);
  progress_ = std::move(fresh);
}

void Raft::become_follower(Term term, NodeId leader) {
  role_ = Role::kFollower;
  reset(term);
  leader_ = leader;
}

void Raft::become_pre_candidate() {
  assert(role_ != Role::kLeader);
  role_ = Role::kPreCandidate;
  votes_.clear();
  leader_ = kNoNode;
}

void Raft::become_candidate() {
  assert(role_ != Role::kLeader);
  reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  assert(role_ == Role::kCandidate);
  reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  for (auto& [id, pr] : progress_) pr.recent_active = true;
  // No membership change until everything before this term is committed (the fix for the
  // single-server change bug, thesis errata): the no-op below commits it.
  pending_conf_index_ = log_.last_index();
  term_start_ = log_.last_index() + 1;
  Entry noop;
  noop.type = EntryType::kNormal;
  append_entries({noop});  // §8: a leader commits an entry of its own term at the start
  broadcast_append();
}

// ---- message dispatch -----------------------------------------------------------------------

void Raft::step(const Message& m) {
  if (m.from == config_.id || m.from == kNoNode) return;
  if (malformed(m)) {
    ++malformed_dropped_;
    return;
  }
  if (m.term > term_) {
    if (is_vote_request(m.type)) {
      bool forced = m.context == kTransferCampaign;
      bool in_lease = config_.check_quorum && leader_ != kNoNode &&
                      election_elapsed_ < config_.election_ticks_min;
      // We heard from a live leader recently: ignore a disruptive candidate (thesis §4.2.3).
      if (!forced && in_lease) return;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term we would campaign in; our term changes when we win.
    } else if (from_leader(m.type)) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend)) {
      // Tell a stale leader about the newer term so that it steps down.
      Message resp;
      resp.type = MessageType::kAppendResponse;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResponse;
      resp.to = m.from;
      resp.reject = true;
      send(std::move(resp));
    }
    return;
  }

  if (is_vote_request(m.type)) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::kLeader: step_leader(m); break;
    case Role::kPreCandidate:
    case Role::kCandidate: step_candidate(m); break;
    case Role::kFollower: step_follower(m); break;
  }
}

void Raft::handle_vote_request(const Message& m) {
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  bool up_to_date =
      config_.bugs.vote_without_log_check || log_.is_up_to_date(m.index, m.log_term);
  Message resp;
  resp.to = m.from;
  resp.type = m.type == MessageType::kVote ? MessageType::kVoteResponse
                                           : MessageType::kPreVoteResponse;
  if (can_vote && up_to_date) {
    resp.term = m.term;  // for a pre-vote, the term the candidate will campaign in
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      become_follower(m.term, m.from);
      handle_append(m);
      return;
    case MessageType::kHeartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return;
    case MessageType::kSnapshotChunk:
      become_follower(m.term, m.from);
      handle_snapshot_chunk(m);
      return;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse: {
      bool mine = (m.type == MessageType::kPreVoteResponse) == (role_ == Role::kPreCandidate);
      if (!mine) return;
      int result = poll(m.from, !m.reject);
      if (result > 0) {
        if (role_ == Role::kPreCandidate) {
          start_campaign(CampaignKind::kElection);
        } else {
          become_leader();
        }
      } else if (result < 0) {
        become_follower(term_, kNoNode);
      }
      return;
    }
    default: return;
  }
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_append(m);
      return;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_heartbeat(m);
      return;
    case MessageType::kSnapshotChunk:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_snapshot_chunk(m);
      return;
    case MessageType::kTimeoutNow:
      hup(true);  // leadership transfer: campaign at once, skipping pre-vote
      return;
    default: return;
  }
}

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
  log_.commit_to(std::min(m.commit, log_.last_index()));
  after_commit_advanced();
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
  switch (m.type) {
    case MessageType::kAppendResponse: handle_append_response(m, pr); break;
    case MessageType::kHeartbeatResponse: handle_heartbeat_response(m, pr); break;
    case MessageType::kSnapshotChunkResponse: handle_snapshot_chunk_response(m, pr); break;
    default: break;
  }
}

void Raft::handle_append_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject) {
    Index hint = m.reject_hint;
    if (m.log_term > 0) hint = log_.find_conflict_by_term(m.reject_hint, m.log_term).first;
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
    broadcast_append();
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
  progress_[config_.id].maybe_update(log_.last_index());
  if (maybe_commit()) broadcast_append();
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
    become_follower(term_, kNoNode);
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

void Raft::broadcast_append() {
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id) send_append(id);
  }
}

void Raft::broadcast_heartbeat(std::uint64_t context) {
  for (const auto& [id, pr] : progress_) {
    if (id == config_.id) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    // Never tell a follower to commit beyond what it is known to hold.
    m.commit = std::min(pr.match, log_.committed());
    m.context = context;
    send(std::move(m));
  }
}

// ---- client requests ------------------------------------------------------------------------

RequestStatus Raft::propose(std::string data) {
  if (role_ != Role::kLeader) return RequestStatus::kNotLeader;
  if (transfer_target_ != kNoNode) return RequestStatus::kTransferInProgress;
  if (uncommitted_bytes_ > config_.max_uncommitted_bytes) return RequestStatus::kOverloaded;
  Entry e;
  e.data = std::move(data);
  append_entries({std::move(e)});
  broadcast_append();
  return RequestStatus::kOk;
}

RequestStatus Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::kLeader) return RequestStatus::kNotLeader;
  if (transfer_target_ != kNoNode) return RequestStatus::kTransferInProgress;
  if (pending_conf_index_ > log_.committed()) return RequestStatus::kConfChangePending;
  if (!conf_change_is_valid(conf_, change)) return RequestStatus::kInvalidConfChange;
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = encode_conf_change(change);
  append_entries({std::move(e)});
  pending_conf_index_ = log_.last_index();
  broadcast_append();
  return RequestStatus::kOk;
}

RequestStatus Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return RequestStatus::kNotLeader;
  if (to == config_.id) return RequestStatus::kOk;
  if (!contains_voter(to)) return RequestStatus::kUnknownNode;
  if (transfer_target_ == to) return RequestStatus::kOk;
  transfer_target_ = to;
  election_elapsed_ = 0;  // the transfer is abandoned after an election timeout
  if (progress_[to].match == log_.last_index()) {
    Message now;
    now.type = MessageType::kTimeoutNow;
    now.to = to;
    send(std::move(now));
  } else {
    send_append(to);
  }
  return RequestStatus::kOk;
}

RequestStatus Raft::read_index(std::uint64_t request_id) {
  if (role_ != Role::kLeader) return RequestStatus::kNotLeader;
  if (log_.term(log_.committed()) != term_) {
    // §6.4 step 1: until an entry of this term commits we do not know the commit index.
    reads_waiting_for_commit_.push_back(request_id);
    return RequestStatus::kOk;
  }
  start_read(request_id);
  return RequestStatus::kOk;
}

void Raft::start_read(std::uint64_t request_id) {
  if (conf_.voters.size() == 1) {
    read_states_.push_back({request_id, log_.committed()});
    return;
  }
  PendingRead read;
  read.context = ++next_read_context_;
  read.request_id = request_id;
  read.index = log_.committed();
  read.acks.insert(config_.id);
  reads_.push_back(std::move(read));
  broadcast_heartbeat(next_read_context_);
}

void Raft::release_reads_up_to(std::uint64_t context) {
  while (!reads_.empty() && reads_.front().context <= context) {
    read_states_.push_back({reads_.front().request_id, reads_.front().index});
    reads_.pop_front();
  }
}

}  // namespace fednode::raft
