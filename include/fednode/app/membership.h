#pragma once
// Who the members are and how to reach them. The member list (id -> HOST:PORT) is replicated:
// it lives in the key-value state and changes only when a membership entry is applied. The
// address book is local: it also knows the peers named on the command line, which are reachable
// before the log says who the members are. Both feed the UDP transport's peer table.
//
// A member is written "HOST:PORT=KEY" in secure mode (the key travels in the replicated
// membership entry, so every member knows every member's key, after a snapshot too) and
// "HOST:PORT" with --insecure. In secure mode a node's id is node_id_of_key(KEY).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fednode/app/kv_store.h"
#include "fednode/crypto/node_key.h"
#include "fednode/net/peer_transport.h"
#include "fednode/raft/conf_change.h"
#include "fednode/util/peer_address.h"

namespace fednode {

// A peer's stable Raft id, derived from its HOST:PORT (FNV-1a, never 0).
raft::NodeId node_id_of(const PeerAddress& address);

class Membership {
 public:
  Membership(raft::NodeId self, KvStore& kv, net::PeerTransport& transport, bool secure);

  void learn_address(raft::NodeId id, const std::string& member);   // local only; member as above
  void apply(const raft::ConfChange& change);                       // a membership entry applied
  void restored();  // the key-value state was replaced by a snapshot: learn its members
  std::string address_of(raft::NodeId id) const;                    // "" if unknown
  std::optional<PeerAddress> address(raft::NodeId id) const;
  std::vector<raft::NodeId> member_ids() const;                     // voters and learners
  std::vector<std::string> member_addresses() const;
  std::string key_of(raft::NodeId id) const;  // from the replicated member text; "" if none
  std::map<raft::NodeId, std::string> address_map() const;  // members' HOST:PORT, without keys
  std::optional<raft::NodeId> member_at(const PeerAddress& address) const;
  // The id and member text of a peer to be added: from its key in secure mode (required there).
  Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id, std::string* member) const;

 private:
  raft::NodeId self_;
  KvStore& kv_;
  net::PeerTransport& transport_;
  bool secure_;
  std::map<raft::NodeId, std::string> addresses_;
};

}  // namespace fednode
