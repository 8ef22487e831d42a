#pragma once
// The events file's lines for what the log applied: the run configuration, each round_start
// and round_commit (with the traffic counters so far), and the end of the run. Every node writes
// them, in log order, from the applied round state.
#include "fednode/app/event_log.h"
#include "fednode/app/raft_host.h"

namespace fednode {

void write_applied_round_event(EventLog& events, const RaftHost& host, fl::RoundEvent event);

}  // namespace fednode
