#pragma once
// raft::Node: the Raft protocol as a pure, deterministic state machine, in the style of etcd's
// raft library. Inputs are tick(), step(message), propose(...), and the other requests below;
// outputs are collected in a Ready that the driver takes with ready(), handles in this order
//   1. install ready.snapshot, append ready.entries and write ready.hard_state, durably;
//   2. send ready.messages;
//   3. apply ready.committed_entries, serve ready.read_states once applied reaches their index;
// and then acknowledges with advance(ready). No sockets, clocks, threads or files in here, and
// randomness comes from the seed in Config, so a run is reproduced exactly by its inputs.
// Not thread-safe: one thread (the control loop, or the simulation) owns a Node.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fednode/raft/message.h"
#include "fednode/raft/storage.h"
#include "fednode/raft/types.h"

namespace fednode::raft {

// Switches that inject known bugs, so the simulation harness shows that it catches them.
// Never set outside tests.
struct InjectedBugs {
  bool commit_previous_term_by_counting = false;  // breaks §5.4.2
  bool forget_to_persist_vote = false;            // hard state omits votedFor
  bool vote_without_log_check = false;            // breaks §5.4.1's up-to-date check
  bool apply_before_commit = false;               // hands uncommitted entries to the application
  bool no_pre_vote_tie_break = false;             // simultaneous pre-candidates grant each other (split votes)
  bool send_before_persist_always = false;        // followers acknowledge entries not yet on their disk
  bool count_own_copy_before_durable = false;     // async_leader_persist: the leader counts its unsynced copy
};

struct Config {
  NodeId id = kNoNode;
  // Election timeout drawn uniformly in [min, max) ticks for each term (§5.2).
  int election_ticks_min = 15;
  int election_ticks_max = 30;
  int heartbeat_ticks = 5;
  // Byte budget for the entries of one append and the data of one snapshot chunk, so that every
  // message fits the transport's datagram bound.
  std::size_t max_message_bytes = 56 * 1024;
  // Appends in flight per follower before the leader waits for acknowledgements.
  std::size_t max_inflight_appends = 64;
  // A leader refuses proposals (kOverloaded) while its uncommitted entries exceed this, so a
  // slow majority cannot make the log grow without bound.
  std::size_t max_uncommitted_bytes = 16u << 20;
  // Snapshot chunks in flight per follower.
  std::size_t max_inflight_chunks = 4;
  bool pre_vote = true;
  bool check_quorum = true;
  // A follower answers only every other heartbeat (when it has sent the leader nothing for two
  // heartbeat periods) where check-quorum still hears it in every window of election_ticks_min
  // ticks; a heartbeat carrying a read-index context is always answered. Off: every heartbeat.
  bool sparse_heartbeat_answers = true;
  // With a slow heartbeat, a lost one must not leave a follower without a heartbeat for a whole
  // election timeout: a follower that has sent the leader nothing since the tick before a
  // heartbeat gets it again every heartbeat_resend_ticks until it does, within the heartbeat
  // period (0: never resent). Followers then answer every heartbeat but one arriving in a tick in
  // which they have already sent the leader something, which already told it they are there.
  int heartbeat_resend_ticks = 0;
  // A leader hands the entries of a Ready whose term and vote are already on disk to the driver
  // to make durable in the background (Ready.persist_async) and goes on; it counts its own copy
  // towards a commit only once the driver reports them durable (Node::persisted). Off: the
  // driver persists every Ready before the next one, and the leader counts its copy at once.
  bool async_leader_persist = false;
  // Ready.snapshot_due is raised when applied entries since the last snapshot pass
  // snapshot_entries and their bytes pass snapshot_log_ratio times the last snapshot's size, or
  // when their bytes pass snapshot_bytes. The ratio keeps snapshotting a large state amortised:
  // each applied byte pays for at most 1/ratio bytes of snapshot (0: entries alone decide).
  std::uint64_t snapshot_entries = 10000;
  double snapshot_log_ratio = 0.5;
  std::uint64_t snapshot_bytes = 64ull << 20;
  std::uint64_t random_seed = 1;
  // A snapshot streamed by a leader is assembled up to this size; a longer stream is dropped.
  std::uint64_t max_snapshot_bytes = 1ull << 30;
  // The application's check of an assembled snapshot's data before the core installs it (a pure
  // function): data it refuses never reaches a Ready, so a peer's garbage is never persisted.
  std::function<bool(const std::string& data)> snapshot_acceptable;
  InjectedBugs bugs;
};

enum class Role : std::uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role role);

struct ReadState {
  std::uint64_t request_id = 0;
  Index index = 0;  // serve the read once the state machine has applied this index
};

struct Ready {
  std::optional<HardState> hard_state;  // set when it changed
  std::optional<Snapshot> snapshot;     // a snapshot received from the leader, to install
  std::vector<Entry> entries;           // to append (replacing any conflicting suffix)
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  // Applied entries since the last snapshot passed the threshold: the driver should snapshot its
  // state machine at applied_index() (with conf_state()) once it has applied committed_entries.
  bool snapshot_due = false;
  // A leader whose term and vote are already on disk may send its messages while it persists
  // (thesis §10.2.1): it counts its own log towards a commit only through acknowledgements that
  // it steps after this Ready is handled, by which time its entries are on disk. Anyone else
  // persists first: its answers promise what is on its disk.
  bool send_before_persist = false;
  // With Config::async_leader_persist, for such a leader's Ready with entries: the driver may
  // write them and return before they are durable, and reports them with Node::persisted once
  // they are. Its committed entries are on a majority's disks already (the leader's own copy
  // counts only once reported), so they may be applied at once.
  bool persist_async = false;
  bool empty() const {
    return !hard_state && !snapshot && entries.empty() && messages.empty() &&
           committed_entries.empty() && read_states.empty() && !snapshot_due;
  }
};

enum class RequestStatus : std::uint8_t {
  kOk,
  kNotLeader,
  kTransferInProgress,
  kConfChangePending,  // one membership change at a time (thesis §4.1)
  kInvalidConfChange,  // unknown node, no-op change, or removing the last voter
  kUnknownNode,
  kOverloaded,  // too many uncommitted bytes; retry later
};
const char* request_status_name(RequestStatus status);

// Progress of one follower as the leader sees it (for status output).
struct FollowerStatus {
  NodeId id = kNoNode;
  Index match = 0;
  Index next = 0;
  bool learner = false;
  bool recent_active = false;
  bool heard = false;  // answered since this node became leader
  const char* state = "";
};

class Raft;  // the protocol (src/raft/raft.h)

class Node {
 public:
  // Starts from what `storage` holds (empty storage: a node waiting to be added).
  Node(const Config& config, const Storage& storage);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The entries and hard state a brand-new group writes to every founding member's storage before
  // constructing its Node: one kAddVoter entry per voter at term 1, all committed.
  static std::vector<Entry> bootstrap_entries(const std::vector<ConfChange>& voters);

  void tick();
  void step(const Message& message);
  RequestStatus propose(std::string data);
  RequestStatus propose_conf_change(const ConfChange& change);
  RequestStatus transfer_leadership(NodeId to);
  // Linearizable read (§6.4, ReadIndex). The answer arrives as a ReadState with this id.
  RequestStatus read_index(std::uint64_t request_id);
  // Starts an election now (tests and operators).
  void campaign();

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);
  // The entries of a persist_async Ready, through `index` (of term `term`), are durable now.
  void persisted(Index index, Term term);

  NodeId id() const;
  Role role() const;
  // Why this node last stopped being leader (check-quorum, a higher term from X, removal); "" never led.
  const std::string& step_down_reason() const;
  NodeId leader() const;
  Term term() const;
  // Leader: the index of its first entry of this term (once applied, the state it sees is
  // current); 0 on other roles.
  Index term_start_index() const;
  // The leader that handed this node its term by a leadership transfer (it was alive and
  // answering then); kNoNode when the term was won in an election.
  NodeId handed_over_by() const;
  std::uint64_t malformed_dropped() const;  // messages no correct peer sends, dropped unread
  // Rejections, as leader, of entries the follower had acknowledged: late ones, or a follower
  // whose data dir was rolled back (it is probed again from what it holds).
  std::uint64_t followers_rolled_back() const;
  // Nonzero while this node lacks entries it had acknowledged (its data dir restored from a
  // backup): it neither votes nor campaigns until its log reaches this index.
  Index rolled_back_until() const;
  std::uint64_t proposals_dropped() const { return proposals_dropped_; }  // proposals refused (not leader, ...)
  Index commit_index() const;
  Index applied_index() const;
  Index last_index() const;
  Index first_index() const;
  std::optional<Term> log_term(Index i) const;
  std::vector<Entry> log_entries(Index lo, Index hi) const;  // for tests and status
  const ConfState& conf_state() const;
  bool is_voter(NodeId id) const;
  NodeId transfer_target() const;
  std::vector<FollowerStatus> followers() const;

 private:
  RequestStatus counted(RequestStatus status);
  Index committed_to_deliver() const;
  Index first_undelivered() const;
  bool snapshot_due() const;

  std::unique_ptr<Raft> raft_;
  std::uint64_t proposals_dropped_ = 0;
  // What Node remembers between ready() calls to tell what changed.
  struct Bookkeeping {
    HardState persisted;
    Index snapshot_index_seen = 0;
    std::uint64_t applied_bytes_since_snapshot = 0;
    bool snapshot_requested = false;  // snapshot_due raised; wait until the snapshot appears
    Index delivered = 0;              // last committed entry handed out (== applied, bar bugs)
  } book_;
};

}  // namespace fednode::raft
