#include "fednode/app/membership.h"

#include <spdlog/spdlog.h>

namespace fednode {

raft::NodeId node_id_of(const PeerAddress& address) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : address.to_string()) h = (h ^ c) * 0x100000001b3ull;
  return h == 0 ? 1 : h;
}

Membership::Membership(raft::NodeId self, KvStore& kv, net::PeerTransport& transport)
    : self_(self), kv_(kv), transport_(transport) {}

void Membership::learn_address(raft::NodeId id, const std::string& address) {
  addresses_[id] = address;
  if (id == self_) return;
  std::string why;
  auto parsed = parse_peer_address(address, &why);
  if (!parsed) {
    spdlog::warn("member {:x}: {}", id, why);
    return;
  }
  if (Status s = transport_.add_peer(id, *parsed); !s.ok()) spdlog::warn("member {:x}: {}", id, s.message());
}

void Membership::apply(const raft::ConfChange& cc) {
  if (cc.type == raft::ConfChangeType::kRemove) {
    kv_.members().erase(cc.node);
    addresses_.erase(cc.node);
    transport_.remove_peer(cc.node);
  } else if (!cc.context.empty()) {
    kv_.members()[cc.node] = cc.context;
    learn_address(cc.node, cc.context);
  }
}

void Membership::restored() {
  for (const auto& [id, addr] : kv_.members()) learn_address(id, addr);
}

std::string Membership::address_of(raft::NodeId id) const {
  auto it = addresses_.find(id);
  return it == addresses_.end() ? "" : it->second;
}

std::optional<PeerAddress> Membership::address(raft::NodeId id) const {
  std::string why;
  auto it = addresses_.find(id);
  if (id == raft::kNoNode || it == addresses_.end()) return std::nullopt;
  return parse_peer_address(it->second, &why);
}

std::vector<raft::NodeId> Membership::member_ids() const {
  std::vector<raft::NodeId> ids;
  for (const auto& [id, addr] : kv_.members()) ids.push_back(id);
  return ids;
}

std::vector<std::string> Membership::member_addresses() const {
  std::vector<std::string> out;
  for (const auto& [id, addr] : kv_.members()) out.push_back(addr);
  return out;
}

}  // namespace fednode
