#include "fednode/raft/node.h"

#include <cassert>

#include "fednode/raft/conf_change.h"
#include "raft.h"

namespace fednode::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::kFollower: return "Follower";
    case Role::kPreCandidate: return "PreCandidate";
    case Role::kCandidate: return "Candidate";
    case Role::kLeader: return "Leader";
  }
  return "?";
}

const char* request_status_name(RequestStatus status) {
  switch (status) {
    case RequestStatus::kOk: return "ok";
    case RequestStatus::kNotLeader: return "not leader";
    case RequestStatus::kTransferInProgress: return "leadership transfer in progress";
    case RequestStatus::kConfChangePending: return "a membership change is still pending";
    case RequestStatus::kInvalidConfChange: return "invalid membership change";
    case RequestStatus::kUnknownNode: return "unknown node";
    case RequestStatus::kOverloaded: return "overloaded: too many uncommitted entries";
  }
  return "?";
}

const char* message_type_name(MessageType type) {
  static constexpr const char* kNames[kMessageTypeCount] = {
      "Append",    "AppendResponse",    "Vote",          "VoteResponse",
      "PreVote",   "PreVoteResponse",   "Heartbeat",     "HeartbeatResponse",
      "SnapChunk", "SnapChunkResponse", "TimeoutNow"};
  auto i = static_cast<int>(type);
  return i < kMessageTypeCount ? kNames[i] : "?";
}

Node::Node(const Config& config, const Storage& storage)
    : raft_(std::make_unique<Raft>(config, storage)) {
  book_.persisted = storage.hard_state();
  book_.snapshot_index_seen = storage.snapshot().meta.index;
}

Node::~Node() = default;

std::vector<Entry> Node::bootstrap_entries(const std::vector<ConfChange>& voters) {
  std::vector<Entry> entries;
  for (const auto& change : voters) {
    assert(change.type == ConfChangeType::kAddVoter);
    Entry e;
    e.term = 1;
    e.index = entries.size() + 1;
    e.type = EntryType::kConfChange;
    e.data = encode_conf_change(change);
    entries.push_back(std::move(e));
  }
  return entries;
}

void Node::tick() { raft_->tick(); }
void Node::step(const Message& message) { raft_->step(message); }
RequestStatus Node::propose(std::string data) { return counted(raft_->propose(std::move(data))); }
RequestStatus Node::propose_conf_change(const ConfChange& change) { return counted(raft_->propose_conf_change(change)); }
RequestStatus Node::counted(RequestStatus status) {
  if (status != RequestStatus::kOk) ++proposals_dropped_;
  return status;
}
RequestStatus Node::transfer_leadership(NodeId to) { return raft_->transfer_leadership(to); }
RequestStatus Node::read_index(std::uint64_t request_id) { return raft_->read_index(request_id); }
void Node::campaign() { raft_->campaign(); }

Index Node::committed_to_deliver() const {
  const auto& log = raft_->log();
  Index hi = log.committed();
  if (raft_->config().bugs.apply_before_commit) hi = log.last_index();
  return hi;
}

Index Node::first_undelivered() const {
  const auto& log = raft_->log();
  if (log.unstable_snapshot()) return log.unstable_snapshot()->meta.index + 1;
  return std::max(log.applied(), book_.delivered) + 1;
}

bool Node::has_ready() const {
  const auto& log = raft_->log();
  return raft_->append_due() || !(raft_->hard_state() == book_.persisted) || log.unstable_snapshot() ||
         !log.unstable_entries().empty() || !raft_->outbox().empty() ||
         !raft_->read_states().empty() || first_undelivered() <= committed_to_deliver() ||
         snapshot_due();
}

bool Node::snapshot_due() const {
  if (book_.snapshot_requested) return false;
  const auto& cfg = raft_->config();
  const Snapshot& last = raft_->storage().snapshot();
  if (raft_->log().applied() <= last.meta.index) return false;
  Index since = raft_->log().applied() - last.meta.index;
  auto bytes = static_cast<double>(book_.applied_bytes_since_snapshot);
  return (since >= cfg.snapshot_entries && bytes >= cfg.snapshot_log_ratio * static_cast<double>(last.data.size())) ||
         book_.applied_bytes_since_snapshot >= cfg.snapshot_bytes;
}

Ready Node::ready() {
  raft_->flush_appends();
  Ready rd;
  auto& log = raft_->log();
  HardState hs = raft_->hard_state();
  if (!(hs == book_.persisted)) rd.hard_state = hs;
  if (log.unstable_snapshot()) rd.snapshot = *log.unstable_snapshot();
  rd.entries = log.unstable_entries();
  rd.messages = std::move(raft_->outbox());
  raft_->outbox().clear();
  rd.read_states = std::move(raft_->read_states());
  raft_->read_states().clear();
  Index lo = first_undelivered();
  Index hi = committed_to_deliver();
  if (lo <= hi) rd.committed_entries = log.slice(lo, hi + 1, std::size_t{64} << 20);
  rd.snapshot_due = snapshot_due();
  bool same_term_and_vote = !rd.hard_state || (rd.hard_state->term == book_.persisted.term &&
                                               rd.hard_state->vote == book_.persisted.vote);
  rd.send_before_persist = (raft_->role() == Role::kLeader && same_term_and_vote && !rd.snapshot) ||
                           raft_->config().bugs.send_before_persist_always;
  rd.persist_async = raft_->config().async_leader_persist && raft_->role() == Role::kLeader && same_term_and_vote &&
                     !rd.snapshot && !rd.entries.empty();
  if (rd.snapshot_due) book_.snapshot_requested = true;
  return rd;
}

void Node::advance(const Ready& rd) {
  auto& log = raft_->log();
  if (rd.hard_state) book_.persisted = *rd.hard_state;
  if (rd.snapshot) {
    log.stable_snapshot_to(rd.snapshot->meta.index);
    log.applied_to(rd.snapshot->meta.index);
    book_.delivered = rd.snapshot->meta.index;
  }
  if (!rd.entries.empty()) log.stable_to(rd.entries.back().index, rd.entries.back().term);
  // Persisted before this call, with the background writes before it (a synchronous write syncs
  // them first); not entries proposed since ready(), by the application while it applied.
  if (!rd.persist_async && !rd.entries.empty()) {
    raft_->synced_through(rd.entries.back().index);
  } else if (!rd.persist_async && rd.snapshot) {
    raft_->synced_through(rd.snapshot->meta.index);
  }
  for (const auto& e : rd.committed_entries) book_.applied_bytes_since_snapshot += entry_size(e);
  if (!rd.committed_entries.empty()) {
    Index last = rd.committed_entries.back().index;
    book_.delivered = last;
    // With the apply-before-commit bug the core hands out more than it committed.
    log.applied_to(std::min(last, log.committed()));
  }
  Index snap = raft_->storage().snapshot().meta.index;
  if (snap != book_.snapshot_index_seen) {
    book_.snapshot_index_seen = snap;
    book_.applied_bytes_since_snapshot = 0;
    book_.snapshot_requested = false;
  }
}

void Node::persisted(Index index, Term term) { raft_->persisted_in_background(index, term); }

NodeId Node::id() const { return raft_->id(); }
Role Node::role() const { return raft_->role(); }
const std::string& Node::step_down_reason() const { return raft_->step_down_reason(); }
NodeId Node::leader() const { return raft_->leader(); }
Term Node::term() const { return raft_->term(); }
Index Node::term_start_index() const { return raft_->term_start_index(); }
NodeId Node::handed_over_by() const { return raft_->handed_over_by(); }
std::uint64_t Node::malformed_dropped() const { return raft_->malformed_dropped(); }
std::uint64_t Node::followers_rolled_back() const { return raft_->followers_rolled_back(); }
Index Node::rolled_back_until() const { return raft_->rolled_back_until(); }
Index Node::commit_index() const { return raft_->log().committed(); }
Index Node::applied_index() const { return raft_->log().applied(); }
Index Node::last_index() const { return raft_->log().last_index(); }
Index Node::first_index() const { return raft_->log().first_index(); }
std::optional<Term> Node::log_term(Index i) const { return raft_->log().term(i); }
std::vector<Entry> Node::log_entries(Index lo, Index hi) const {
  std::vector<Entry> out;
  while (lo < hi) {
    auto part = raft_->log().slice(lo, hi, std::size_t{1} << 30);
    if (part.empty()) break;
    lo = part.back().index + 1;
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}
const ConfState& Node::conf_state() const { return raft_->conf(); }
bool Node::is_voter(NodeId id) const { return raft_->contains_voter(id); }
NodeId Node::transfer_target() const { return raft_->transfer_target(); }

std::vector<FollowerStatus> Node::followers() const {
  std::vector<FollowerStatus> out;
  if (raft_->role() != Role::kLeader) return out;
  for (const auto& [id, pr] : raft_->progress()) {
    if (id == raft_->id()) continue;
    out.push_back({id, pr.match, pr.next, pr.learner, pr.recent_active, pr.heard, replication_state_name(pr.state)});
  }
  return out;
}

}  // namespace fednode::raft
