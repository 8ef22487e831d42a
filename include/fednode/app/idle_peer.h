#pragma once
#include "fednode/app/cli.h"

namespace fednode {

// Runs a peer until SIGINT/SIGTERM. Returns the process exit code.
int run_peer(const NodeOptions& options);

}  // namespace fednode
