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
  // Answering every other heartbeat leaves two heartbeat periods between answers; check-quorum
  // needs one in every window, with a heartbeat period to spare for a late one. The threshold
  // sits half a period below two, so a follower whose ticks run a little late still answers.
  // With resends, every heartbeat is answered (see Config::heartbeat_resend_ticks).
  int hb = config_.heartbeat_ticks;
  if (config_.heartbeat_resend_ticks > 0) {
    heartbeat_answer_ticks_ = 1;
  } else if (config_.sparse_heartbeat_answers && config_.election_ticks_min - hb >= 2 * hb) {
    heartbeat_answer_ticks_ = 2 * hb - std::max(1, hb / 2);
  }
  HardState hs = storage.hard_state();
  term_ = hs.term;
  vote_ = hs.vote;
  conf_ = storage.snapshot().meta.conf;
  conf_applied_index_ = storage.snapshot().meta.index;
  apply_committed_conf_changes();
  durable_ = log_.last_index();
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
  if (quiet_ticks_ < heartbeat_answer_ticks_) ++quiet_ticks_;
  if (deferred_pre_vote_ && election_elapsed_ >= config_.election_ticks_min) {
    Message m = std::move(*deferred_pre_vote_);
    deferred_pre_vote_.reset();
    step(m);
  }
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    hup(false);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  for (auto& [id, pr] : progress_) {
    if (pr.quiet_ticks < config_.election_ticks_max) ++pr.quiet_ticks;
  }
  if (election_elapsed_ >= config_.election_ticks_min) {
    election_elapsed_ = 0;
    // Check-quorum (thesis §6.2): a leader that has not heard from a majority steps down.
    if (config_.check_quorum && !quorum_active()) {
      become_follower(term_, kNoNode, "check-quorum: no majority heard from within an election timeout");
      return;
    }
    if (transfer_target_ != kNoNode) abort_transfer();  // the transfer took too long
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(0);
    resume_stalled_snapshots();
  } else {
    resend_unanswered_heartbeats();
  }
}

// Snapshot streams that made no progress since the last beat resume from the last ack.
void Raft::resume_stalled_snapshots() {
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

bool Raft::quorum_active() {
  std::size_t active = 0;
  // Learners do not count, but their activity restarts too: the leader's view of which
  // learners are alive (live trainers, --evict-after) comes from it.
  for (auto& [id, pr] : progress_) {
    if (!pr.learner && (id == config_.id || pr.recent_active)) ++active;
    pr.recent_active = false;
  }
  return active >= majority(conf_.voters.size());
}

// ---- elections ------------------------------------------------------------------------------

void Raft::hup(bool transfer) {
  if (role_ == Role::kLeader || !promotable() || rolled_back_until() != 0) return;
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
    if (id != config_.id) send_vote_request(id, type, term, kind == CampaignKind::kTransfer);
  }
}

void Raft::send_vote_request(NodeId to, MessageType type, Term term, bool transfer) {
  Message m;
  m.type = type;
  m.to = to;
  m.term = term;
  m.index = log_.last_index();
  m.log_term = log_.last_term();
  m.context = transfer ? kTransferCampaign : 0;
  send(std::move(m));
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
    handed_over_by_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  deferred_pre_vote_.reset();
  reset_election_timeout();
  abort_transfer();
  votes_.clear();
  pending_conf_index_ = 0;
  uncommitted_bytes_ = 0;
  reads_.clear();
  reads_waiting_for_commit_.clear();
  append_due_ = false;
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
      pr.match = id == config_.id ? self_match() : 0;
    }
    pr.learner = learner;
    fresh.emplace(id, std::move(pr));
  };
  for (NodeId id : conf_.voters) add(id, false);
  for (NodeId id : conf_.learners) add(id, true);
  progress_ = std::move(fresh);
}

void Raft::become_follower(Term term, NodeId leader, std::string why) {
  if (role_ == Role::kLeader) step_down_reason_ = why.empty() ? "stepped down" : std::move(why);
  role_ = Role::kFollower;
  reset(term);
  leader_ = leader;
  quiet_ticks_ = heartbeat_answer_ticks_;  // the first heartbeat of a leader is answered
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
  if (malformed(m) || implausible(m)) {
    ++malformed_dropped_;
    return;
  }
  if (m.term > term_) {
    if (is_vote_request(m.type)) {
      bool forced = m.context == kTransferCampaign;
      bool in_lease = config_.check_quorum && leader_ != kNoNode &&
                      election_elapsed_ < config_.election_ticks_min;
      // We heard from a live leader recently: ignore a disruptive candidate (thesis §4.2.3).
      // A pre-vote is kept and answered when the lease runs out without news from the leader:
      // a candidate whose timer ran out a tick before ours (the nodes' ticks are not in phase)
      // then has its answer a tick later, not at our own timeout (up to an election timeout).
      if (!forced && in_lease) {
        if (m.type == MessageType::kPreVote) deferred_pre_vote_ = m;
        return;
      }
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term we would campaign in; our term changes when we win.
    } else {
      std::string why;
      if (role_ == Role::kLeader) {
        why = "term " + std::to_string(m.term) + " seen from node " + std::to_string(m.from) +
              (transfer_target_ == m.from ? " (the leadership transfer to it)" : "");
      }
      become_follower(m.term, from_leader(m.type) ? m.from : kNoNode, std::move(why));
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

// What a well-formed message may still not do, given what this node knows. Each is something no
// correct peer does (the simulation checks that no correct message is ever dropped), while a
// member that lies (or any host in --insecure mode) could otherwise push the group's term to the
// bound past which nothing is accepted, or lead followers in a term that has a leader.
const char* Raft::implausible(const Message& m) const {
  if (m.term > term_) {
    // A node this one lists as a learner may have been promoted and elected since (a change not
    // applied here yet), but only a few elections ahead of us.
    bool learner = std::binary_search(conf_.learners.begin(), conf_.learners.end(), m.from);
    if (m.term - term_ > (learner ? kMaxLearnerTermJump : kMaxTermJump)) return "term jumps too far ahead";
  }
  // One leader per term (election safety): another node's leader messages in a term whose
  // leader we know can only be forged.
  if (from_leader(m.type) && m.term == term_ && leader_ != kNoNode && m.from != leader_) {
    return "a second leader in one term";
  }
  return nullptr;
}

void Raft::handle_vote_request(const Message& m) {
  bool can_vote = (vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                   (m.type == MessageType::kPreVote && m.term > term_)) &&
                  rolled_back_until() == 0;  // a rolled-back node may have voted already
  bool up_to_date =
      config_.bugs.vote_without_log_check || log_.is_up_to_date(m.index, m.log_term);
  // Two pre-candidates whose timers ran out together would each grant the other and then split
  // the real vote (with one voter down of four, neither can win): between them, the one with the
  // better log, then the lower id, goes on, and the other grants it and steps back. The one that
  // goes on asks the other again: that one may have ignored its first request while it still
  // heard the old leader (the lease). Pre-votes change no term and no vote, so this decides only
  // who campaigns first.
  bool step_back = false, ask_again = false;
  if (m.type == MessageType::kPreVote && role_ == Role::kPreCandidate && can_vote && up_to_date &&
      !config_.bugs.no_pre_vote_tie_break) {
    bool same_log = m.log_term == log_.last_term() && m.index == log_.last_index();
    if (same_log && m.from > config_.id) {
      can_vote = false;
      ask_again = true;
    } else {
      step_back = true;
    }
  }
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
  if (step_back) become_follower(term_, kNoNode);
  if (ask_again) send_vote_request(m.from, MessageType::kPreVote, term_ + 1, false);
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

void Raft::heard_from_leader(NodeId leader) {
  election_elapsed_ = 0;
  leader_ = leader;
  deferred_pre_vote_.reset();  // the leader lives: that candidate's pre-campaign is moot
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      heard_from_leader(m.from);
      handle_append(m);
      return;
    case MessageType::kHeartbeat:
      heard_from_leader(m.from);
      handle_heartbeat(m);
      return;
    case MessageType::kSnapshotChunk:
      heard_from_leader(m.from);
      handle_snapshot_chunk(m);
      return;
    case MessageType::kTimeoutNow: {
      Term before = term_;
      hup(true);  // leadership transfer: campaign at once, skipping pre-vote
      if (term_ != before) handed_over_by_ = m.from;
      return;
    }
    default: return;
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
  append_due_ = true;
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
  append_due_ = true;
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
