#include "progress.h"

#include <algorithm>

namespace fednode::raft {

const char* replication_state_name(ReplicationState state) {
  switch (state) {
    case ReplicationState::kProbe: return "probe";
    case ReplicationState::kReplicate: return "replicate";
    case ReplicationState::kSnapshot: return "snapshot";
  }
  return "?";
}

void Progress::become_probe() {
  // After a snapshot, continue right after it; otherwise after what we know matches.
  if (state == ReplicationState::kSnapshot) {
    next = std::max(match + 1, snapshot->meta.index + 1);
  } else {
    next = match + 1;
  }
  state = ReplicationState::kProbe;
  probe_sent = false;
  inflight.clear();
}

void Progress::become_replicate() {
  state = ReplicationState::kReplicate;
  next = match + 1;
  probe_sent = false;
  inflight.clear();
}

void Progress::become_snapshot(std::shared_ptr<const Snapshot> snap) {
  state = ReplicationState::kSnapshot;
  snapshot = std::move(snap);
  snapshot_sent = snapshot_acked = snapshot_acked_at_last_beat = snapshot_reported = 0;
  snapshot_done_sent = false;
  probe_sent = false;
  inflight.clear();
}

bool Progress::maybe_update(Index n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  if (state == ReplicationState::kReplicate) {
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::follower_lost_entries(Index rejected, Index hint) {
  if (state == ReplicationState::kSnapshot || rejected > match) return false;
  become_probe();
  match = 0;  // nothing is known to match any more; lowering it never commits anything
  next = std::max<Index>(1, std::min(rejected, hint + 1));
  probe_sent = true;  // the next heartbeat's answer sends the probe
  return true;
}

bool Progress::paused(std::size_t max_inflight) const {
  switch (state) {
    case ReplicationState::kProbe: return probe_sent;
    case ReplicationState::kReplicate: return inflight.size() >= max_inflight;
    case ReplicationState::kSnapshot: return true;
  }
  return true;
}

void Progress::free_inflight_up_to(Index n) {
  while (!inflight.empty() && inflight.front() <= n) inflight.pop_front();
}

}  // namespace fednode::raft
