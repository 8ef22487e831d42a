#pragma once
// Plain data of the Raft core: entries, hard state, membership, snapshots. No behaviour here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fednode::raft {

// The smallest number of voters that is more than half of `voters`: the quorum of every
// decision in Raft and of every "a majority holds it" rule above it.
constexpr std::size_t majority(std::size_t voters) { return voters / 2 + 1; }

using NodeId = std::uint64_t;
using Term = std::uint64_t;
using Index = std::uint64_t;
inline constexpr NodeId kNoNode = 0;

enum class EntryType : std::uint8_t {
  kNormal = 0,      // application data (may be empty: the leader's no-op on election)
  kConfChange = 1,  // data is an encoded ConfChange
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Bytes an entry counts for in message and snapshot budgets.
// Counts at least what the wire and disk encodings add per entry (msgpack: at most 25 bytes).
inline std::size_t entry_size(const Entry& e) { return e.data.size() + 32; }

// What must be durable before any message that depends on it is sent (Raft paper, Figure 2).
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  friend bool operator==(const HardState&, const HardState&) = default;
};

// Membership: voters count for elections and commitment; learners only receive the log.
struct ConfState {
  std::vector<NodeId> voters;    // sorted
  std::vector<NodeId> learners;  // sorted, disjoint from voters
  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// One server at a time (Ongaro's thesis, chapter 4). kAddVoter on a learner promotes it.
enum class ConfChangeType : std::uint8_t { kAddVoter = 0, kAddLearner = 1, kRemove = 2 };

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node = kNoNode;
  std::string context;  // opaque to the core; the daemon stores the member's address here
  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

struct SnapshotMeta {
  Index index = 0;  // last entry the snapshot covers
  Term term = 0;    // its term
  ConfState conf;   // membership as of index
  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // the application's state machine, opaque to the core
  bool empty() const { return meta.index == 0; }
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

}  // namespace fednode::raft
