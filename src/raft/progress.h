#pragma once
// Progress: what the leader knows of one follower's log, and how it replicates to it
// (etcd's tracker.Progress): probing one append at a time, replicating optimistically with a
// bounded window of appends in flight, or streaming a snapshot in chunks.
#include <cstddef>
#include <deque>
#include <memory>

#include "fednode/raft/types.h"

namespace fednode::raft {

enum class ReplicationState : std::uint8_t { kProbe, kReplicate, kSnapshot };
const char* replication_state_name(ReplicationState state);

struct Progress {
  Index match = 0;
  Index next = 1;
  ReplicationState state = ReplicationState::kProbe;
  bool probe_sent = false;     // kProbe: an append is out; wait for its answer or a heartbeat
  bool recent_active = false;  // heard from since the last check-quorum round
  bool heard = false;          // answered anything since this node became leader
  int quiet_ticks = 0;         // ticks since the leader last heard from it
  bool learner = false;
  std::deque<Index> inflight;  // kReplicate: last index of each unacknowledged append
  Index commit_sent = 0;       // the highest commit index an append told it this term

  // kSnapshot: the snapshot being streamed (kept alive even if storage compacts again meanwhile,
  // so a slow follower still finishes it) and the bytes sent and acknowledged.
  std::shared_ptr<const Snapshot> snapshot;
  std::uint64_t snapshot_sent = 0;
  std::uint64_t snapshot_acked = 0;
  std::uint64_t snapshot_acked_at_last_beat = 0;
  std::uint64_t snapshot_reported = 0;  // the offset in the latest response, stale or not
  bool snapshot_done_sent = false;  // the last chunk is out; wait for an ack or the next beat

  void become_probe();
  void become_replicate();
  void become_snapshot(std::shared_ptr<const Snapshot> snap);
  // An acknowledgement up to n; false when it is stale.
  bool maybe_update(Index n);
  // A rejection of the append after `rejected`; `hint` is the follower's (or our) guess of the
  // last matching index. False when the rejection is stale.
  bool maybe_decrease_to(Index rejected, Index hint);
  // A rejection at or below `match`: the follower lacks entries it acknowledged (a late
  // rejection, or a follower whose dir was restored from a backup). Probes again from `hint`,
  // but only when the next heartbeat is answered: answered at once, each rejection would bring
  // the same probe back and the pair would exchange them as fast as the network goes. False when
  // it does not apply (not at or below match, or a snapshot is streaming).
  bool follower_lost_entries(Index rejected, Index hint);
  bool paused(std::size_t max_inflight) const;
  void free_inflight_up_to(Index n);
};

}  // namespace fednode::raft
