#pragma once
// Messages exchanged by Raft cores. The transport (src/net) serializes them; the core never does.
#include <cstdint>
#include <string>
#include <vector>

#include "fednode/raft/types.h"

namespace fednode::raft {

enum class MessageType : std::uint8_t {
  kAppend = 0,          // AppendEntries (§5.3)
  kAppendResponse = 1,  // reject + hint for fast backtracking
  kVote = 2,            // RequestVote (§5.2)
  kVoteResponse = 3,
  kPreVote = 4,  // thesis §9.6: would you vote for me at term+1?
  kPreVoteResponse = 5,
  kHeartbeat = 6,  // carries commit (bounded by the follower's match) and a read-index context
  kHeartbeatResponse = 7,
  kSnapshotChunk = 8,  // InstallSnapshot (§7), one chunk
  kSnapshotChunkResponse = 9,
  kTimeoutNow = 10,  // leadership transfer (thesis §3.10)
};
inline constexpr int kMessageTypeCount = 11;

const char* message_type_name(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  // kAppend: index/log_term of the entry preceding `entries`. kAppendResponse: the index
  // acknowledged, or on reject the index rejected. kVote/kPreVote: the candidate's last index/term.
  Index index = 0;
  Term log_term = 0;
  Index commit = 0;
  std::vector<Entry> entries;
  bool reject = false;
  Index reject_hint = 0;  // kAppendResponse on reject: follower's hint index (log_term is its term)
  std::uint64_t context = 0;  // read-index round id on heartbeats; 1 on kVote marks a transfer
  // Snapshot chunks: meta identifies the snapshot, offset/data the chunk, `done` the last one.
  SnapshotMeta snapshot;
  std::uint64_t offset = 0;
  std::string data;
  bool done = false;
  friend bool operator==(const Message&, const Message&) = default;
};

}  // namespace fednode::raft
