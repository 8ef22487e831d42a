#pragma once
#include <string>
// Raft: the protocol itself (the paper's Figure 2 plus pre-vote, check-quorum, ReadIndex,
// leadership transfer, single-server membership changes and chunked snapshots). Node wraps it
// with the Ready/advance handshake. Messages it produces wait in outbox() until the driver takes
// them with the Ready, after persisting what they depend on.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "fednode/util/seeded_rng.h"
#include "fednode/raft/node.h"
#include "progress.h"
#include "raft_log.h"

namespace fednode::raft {

// The context of the rejection a follower sends when a heartbeat shows it lacks entries it had
// acknowledged (a rolled-back data dir).
inline constexpr std::uint64_t kLostEntriesContext = 1;

class Raft {
 public:
  Raft(const Config& config, const Storage& storage);

  void tick();
  void step(const Message& m);
  RequestStatus propose(std::string data);
  RequestStatus propose_conf_change(const ConfChange& change);
  RequestStatus transfer_leadership(NodeId to);
  RequestStatus read_index(std::uint64_t request_id);
  void campaign() { hup(false); }

  HardState hard_state() const;
  std::vector<Message>& outbox() { return outbox_; }
  // Proposals and commit advances of one turn leave as one append per follower: they mark the
  // appends due, and the driver flushes them when it takes the Ready.
  bool append_due() const { return append_due_; }
  void flush_appends();
  // This node's log is durable through `index` (a synchronous persist: all of it).
  void synced_through(Index index);
  void persisted_in_background(Index index, Term term);
  std::vector<ReadState>& read_states() { return read_states_; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  const Storage& storage() const { return storage_; }
  const Config& config() const { return config_; }

  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  const std::string& step_down_reason() const { return step_down_reason_; }
  NodeId leader() const { return leader_; }
  Term term() const { return term_; }
  Index term_start_index() const { return role_ == Role::kLeader ? term_start_ : 0; }
  std::uint64_t malformed_dropped() const { return malformed_dropped_; }
  std::uint64_t followers_rolled_back() const { return followers_rolled_back_; }
  // Nonzero while this node lacks entries it had acknowledged (its data dir was rolled back): it
  // neither votes nor campaigns until its log reaches this index.
  Index rolled_back_until() const { return log_.last_index() < rolled_back_until_ ? rolled_back_until_ : 0; }
  const ConfState& conf() const { return conf_; }
  NodeId transfer_target() const { return transfer_target_; }
  // The leader that handed this term over (leadership transfer); kNoNode after an election.
  NodeId handed_over_by() const { return handed_over_by_; }
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  bool promotable() const { return contains_voter(config_.id); }
  bool contains_voter(NodeId id) const;

 private:
  enum class CampaignKind { kPreElection, kElection, kTransfer };

  void tick_election();
  void tick_heartbeat();
  void resume_stalled_snapshots();
  void hup(bool transfer);
  void start_campaign(CampaignKind kind);
  void send_vote_request(NodeId to, MessageType type, Term term, bool transfer);
  // Records a vote; returns +1 won, -1 lost, 0 pending.
  int poll(NodeId from, bool granted);

  void reset(Term term);
  // `why`: for a leader stepping down, the reason (Node::step_down_reason()).
  void become_follower(Term term, NodeId leader, std::string why = {});
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset_election_timeout();

  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);
  void heard_from_leader(NodeId leader);
  void handle_vote_request(const Message& m);
  const char* implausible(const Message& m) const;
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot_chunk(const Message& m);
  void handle_append_response(const Message& m, Progress& pr);
  void handle_heartbeat_response(const Message& m, Progress& pr);
  void handle_snapshot_chunk_response(const Message& m, Progress& pr);
  bool restore(const Snapshot& snapshot);

  void append_entries(std::vector<Entry> entries);
  bool maybe_commit();
  Index quorum_match_index() const;
  bool quorum_active();
  void after_commit_advanced();
  void apply_committed_conf_changes();
  void change_membership(const ConfChange& change);
  void rebuild_progress();

  void send(Message m);
  bool send_append(NodeId to, bool send_if_empty = true);
  void send_snapshot_chunks(NodeId to, Progress& pr);
  std::shared_ptr<const Snapshot> latest_snapshot();
  void broadcast_append();
  void broadcast_heartbeat(std::uint64_t context);
  void send_heartbeat(NodeId to, const Progress& pr, std::uint64_t context);
  void resend_unanswered_heartbeats();
  void send_commit(NodeId to, Progress& pr);
  Index self_match() const;  // what this node's own progress may count
  void count_own_copy();
  void abort_transfer() { transfer_target_ = kNoNode; }

  void start_read(std::uint64_t request_id);
  void release_reads_up_to(std::uint64_t context);

  std::uint64_t next_random();

  Config config_;
  const Storage& storage_;
  RaftLog log_;
  Term term_ = 0;
  std::uint64_t malformed_dropped_ = 0;  // messages no correct peer sends (message_check.h)
  std::uint64_t followers_rolled_back_ = 0;  // rejections of entries a follower had acknowledged
  Index rolled_back_until_ = 0;              // see rolled_back_until()
  NodeId vote_ = kNoNode;
  Role role_ = Role::kFollower;
  std::string step_down_reason_;  // why this node last stopped leading
  NodeId leader_ = kNoNode;
  ConfState conf_;
  Index conf_applied_index_ = 0;  // conf-change entries up to here are reflected in conf_
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
  std::vector<Message> outbox_;
  bool append_due_ = false;
  int election_elapsed_ = 0;
  std::optional<Message> deferred_pre_vote_;  // ignored in the lease, answered when it ends
  int quiet_ticks_ = 0;          // follower: ticks since it last sent its leader anything
  int heartbeat_answer_ticks_ = 0;  // follower: answers a heartbeat after this many quiet ticks
  int heartbeat_elapsed_ = 0;
  Index durable_ = 0;  // this node's log is on its disk through here (async_leader_persist)
  int randomized_election_timeout_ = 0;
  NodeId transfer_target_ = kNoNode;
  NodeId handed_over_by_ = kNoNode;  // sender of the TimeoutNow this term's campaign answered
  Index pending_conf_index_ = 0;
  Index term_start_ = 0;  // leader: index of its first entry of this term
  std::size_t uncommitted_bytes_ = 0;  // leader: bytes appended in this term, not yet committed

  struct PendingRead {
    std::uint64_t context = 0;
    std::uint64_t request_id = 0;
    Index index = 0;
    std::set<NodeId> acks;
  };
  std::deque<PendingRead> reads_;
  std::vector<std::uint64_t> reads_waiting_for_commit_;
  std::uint64_t next_read_context_ = 0;
  std::vector<ReadState> read_states_;

  // A snapshot being received in chunks.
  SnapshotMeta incoming_meta_;
  std::string incoming_data_;

  std::shared_ptr<const Snapshot> snapshot_cache_;  // storage's latest, shared by streams
  SeededRng rng_;  // election timeouts
};

}  // namespace fednode::raft
