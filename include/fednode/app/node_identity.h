#pragma once
// Who this node is and who founded its group: its key (secure mode) or its address (--insecure)
// gives its Raft id; the founders' ids and member texts come from the command line the same way
// on every founder, so all of them write the same bootstrap entries.
#include <cstdint>
#include <optional>
#include <vector>

#include "fednode/app/cli.h"
#include "fednode/app/membership.h"
#include "fednode/crypto/node_key.h"
#include "fednode/raft/conf_change.h"

namespace fednode {

// In secure mode the key (from --key-file), the id derived from it and this start's boot epoch;
// with --insecure an id derived from the address and no key.
struct Identity {
  raft::NodeId id = 0;
  std::optional<crypto::NodeKey> key;
  std::uint32_t epoch = 0;
};

Status establish_identity(const NodeOptions& options, Identity* out);

// The voters named on the command line and this node, sorted by id: HOST:PORT=KEY with ids from
// keys, or HOST:PORT with ids from addresses.
std::vector<raft::ConfChange> founding_members(const NodeOptions& options, const Identity& identity,
                                               const Membership& members);

}  // namespace fednode
