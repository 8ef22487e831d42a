#pragma once
#include "fednode/app/cli.h"
#include "fednode/raft/types.h"

namespace fednode {

// A peer's stable Raft id, derived from its HOST:PORT (FNV-1a, never 0).
raft::NodeId node_id_of(const PeerAddress& address);

// Runs the peer daemon until SIGINT/SIGTERM: Raft over UDP, the client channel over TCP, the
// replicated key-value store, durable storage under --data-dir. Returns the exit code.
int run_peer(const NodeOptions& options);

}  // namespace fednode
