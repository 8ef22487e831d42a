#pragma once
#include "fednode/app/cli.h"
#include "fednode/app/membership.h"

namespace fednode {

// Runs the peer daemon until SIGINT/SIGTERM: Raft over UDP, the client channel over TCP, the
// replicated key-value store, durable storage under --data-dir. Returns the exit code.
int run_peer(const NodeOptions& options);

}  // namespace fednode
