#pragma once
// Who the members are and how to reach them. The member list (id -> HOST:PORT) is replicated:
// it lives in the key-value state and changes only when a membership entry is applied. The
// address book is local: it also knows the peers named on the command line, which are reachable
// before the log says who the members are. Both feed the UDP transport's peer table.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fednode/app/kv_store.h"
#include "fednode/net/peer_transport.h"
#include "fednode/raft/conf_change.h"
#include "fednode/util/peer_address.h"

namespace fednode {

// A peer's stable Raft id, derived from its HOST:PORT (FNV-1a, never 0).
raft::NodeId node_id_of(const PeerAddress& address);

class Membership {
 public:
  Membership(raft::NodeId self, KvStore& kv, net::PeerTransport& transport);

  void learn_address(raft::NodeId id, const std::string& address);  // local only
  void apply(const raft::ConfChange& change);                       // a membership entry applied
  void restored();  // the key-value state was replaced by a snapshot: learn its members
  std::string address_of(raft::NodeId id) const;                    // "" if unknown
  std::optional<PeerAddress> address(raft::NodeId id) const;
  std::vector<raft::NodeId> member_ids() const;                     // voters and learners
  std::vector<std::string> member_addresses() const;

 private:
  raft::NodeId self_;
  KvStore& kv_;
  net::PeerTransport& transport_;
  std::map<raft::NodeId, std::string> addresses_;
};

}  // namespace fednode
