#pragma once
// ctl's connection to nodes: its keys (--key-file, --server-key, --cluster-id, and the keys it
// learns from redirects and member lists), sealed or plaintext calls, and reading answers. Shared
// by ctl's commands (ctl.cpp, ctl_rounds.cpp, ctl_watch.cpp, ctl_export.cpp).
#include <chrono>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "fednode/crypto/node_key.h"
#include "fednode/net/client_connection.h"
#include "fednode/net/data_plane.h"
#include "fednode/util/peer_address.h"

namespace fednode {

struct CtlKeys {
  std::optional<crypto::NodeKey> self;
  std::string default_server;  // --server-key, else the key file's own public key
  std::string cluster_id = "fednode";
  std::map<std::string, std::string> known;  // HOST:PORT -> key
};
// The keys of this ctl process (set once from its command line).
CtlKeys& ctl_keys();

// Connects ctl to a node: sealed with --key-file (the server's key from --server-key, a redirect
// or the member list, else the key file's own: talking to the local node), plaintext otherwise.
Status ctl_connect(net::ClientConnection& connection, const PeerAddress& address, std::chrono::milliseconds timeout);
// Sends {type: TYPE, id: 1} to the node at `address` (no redirect) and returns its answer: the
// status requests (diagnostic, fl_status) any node answers.
Status ctl_ask(const PeerAddress& address, const std::string& type, msgpack::object_handle* answer,
               std::chrono::milliseconds timeout);
// A non-negative integer at a path of nested map keys of an answer (0 when absent).
std::uint64_t ctl_u64_at(const msgpack::object& map, std::initializer_list<const char*> path);
// The members (HOST:PORT) a node's diagnostic answer lists; their keys are learnt for later calls.
std::vector<std::string> ctl_members_of(const msgpack::object& diagnostic);
// Remembers the key a node at `address` must hold (from redirects and member lists).
void ctl_learn_key(const std::string& address, const std::string& key);
// Whether ctl was given a key (--key-file): a keyed group's data plane needs one.
bool ctl_has_key();
// An answer that is not a msgpack map came from something that is not fednode: an error naming
// the address.
Status ctl_check_answer(const PeerAddress& address, const msgpack::object& answer);

// The data-plane call of a node for ctl's key (--key-file), none without one (plaintext).
std::optional<net::SecureCall> ctl_data_call(const PeerAddress& node);

}  // namespace fednode
