#include "fednode/app/node_identity.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "fednode/crypto/boot_epoch.h"

namespace fednode {

Status establish_identity(const NodeOptions& o, Identity* out) {
  if (o.insecure) {
    spdlog::warn("--insecure: no node keys; peer datagrams are neither authenticated nor encrypted and any host "
                 "that reaches this node's ports can act as a member. For local experiments only.");
    out->id = node_id_of(o.self);
    return {};
  }
  crypto::NodeKey key;
  if (Status s = crypto::load_key_file(o.key_file, &key); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return Status::error(o.data_dir + ": " + ec.message());
  if (Status s = crypto::next_boot_epoch(o.data_dir, &out->epoch); !s.ok()) return s;
  out->id = crypto::node_id_of_key(key.public_key);
  out->key = key;
  spdlog::info("node key {} (node id {:x}), boot epoch {}", key.public_key.text(), out->id, out->epoch);
  return {};
}

// The voters named on the command line and this node, in the same order on every founder:
// HOST:PORT=KEY with ids from keys, or HOST:PORT with ids from addresses (--insecure).
std::vector<raft::ConfChange> founding_members(const NodeOptions& options, const Identity& identity,
                                               const Membership& members) {
  std::vector<raft::ConfChange> founders;
  auto add = [&](const PeerAddress& a, const std::string& key) {
    raft::NodeId id = 0;
    std::string member;
    if (!members.identify(a, key, &id, &member).ok()) return;  // keys were checked by the CLI
    founders.push_back({raft::ConfChangeType::kAddVoter, id, member});
  };
  for (std::size_t i = 0; i < options.peers.size(); ++i) add(options.peers[i], i < options.peer_keys.size() ? options.peer_keys[i] : "");
  add(options.self, identity.key ? identity.key->public_key.text() : "");
  std::sort(founders.begin(), founders.end(), [](const auto& a, const auto& b) { return a.node < b.node; });
  return founders;
}

}  // namespace fednode
