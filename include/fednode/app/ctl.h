#pragma once
#include <string>
#include <vector>

#include "fednode/util/peer_address.h"

namespace fednode {

// `fednode ctl HOST:PORT get|set K V|del K|status`: talks to a node over the client channel and
// follows redirects to the leader. Returns the exit code.
int run_ctl(const std::vector<std::string>& args);

// `ctl HOST:PORT rounds [--tsv] [--since N]` (ctl_rounds.cpp).
int print_rounds(const PeerAddress& address, const std::vector<std::string>& flags);

}  // namespace fednode
