#pragma once
// ctl's subcommands that read the replicated rounds (`ctl watch` is in ctl_watch.h).
#include <string>
#include <vector>

#include "fednode/util/peer_address.h"

namespace fednode {

// `ctl HOST:PORT export-model [ROUND|latest] --out FILE.pt` (ctl_export.cpp).
int export_model(const PeerAddress& address, const std::vector<std::string>& flags);

// `ctl HOST:PORT rounds [--tsv] [--since N]` (ctl_rounds.cpp).
int print_rounds(const PeerAddress& address, const std::vector<std::string>& flags);

}  // namespace fednode
