#include "fednode/app/membership.h"

#include <spdlog/spdlog.h>

namespace fednode {

raft::NodeId node_id_of(const PeerAddress& address) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : address.to_string()) h = (h ^ c) * 0x100000001b3ull;
  return h == 0 ? 1 : h;
}

namespace {

std::string address_part(const std::string& member) { return member.substr(0, member.find('=')); }

}  // namespace

Membership::Membership(raft::NodeId self, KvStore& kv, net::PeerTransport& transport, bool secure)
    : self_(self), kv_(kv), transport_(transport), secure_(secure) {}

void Membership::learn_address(raft::NodeId id, const std::string& member) {
  std::string address = address_part(member);
  addresses_[id] = address;
  if (id == self_) return;
  std::string why;
  auto parsed = parse_peer_address(address, &why);
  if (!parsed) {
    spdlog::warn("member {:x}: {}", id, why);
    return;
  }
  std::optional<crypto::PublicKey> key;
  if (auto eq = member.find('='); secure_ && eq != std::string::npos) {
    key = crypto::PublicKey::parse(member.substr(eq + 1), &why);
    if (!key) spdlog::warn("member {:x} at {}: {}", id, address, why);
  }
  if (Status s = transport_.add_peer(id, *parsed, key ? &*key : nullptr); !s.ok()) {
    spdlog::warn("member {:x}: {}", id, s.message());
  }
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
  for (const auto& [id, member] : kv_.members()) out.push_back(address_part(member));
  return out;
}

std::string Membership::key_of(raft::NodeId id) const {
  auto it = kv_.members().find(id);
  if (it == kv_.members().end()) return "";
  auto eq = it->second.find('=');
  return eq == std::string::npos ? "" : it->second.substr(eq + 1);
}

std::map<raft::NodeId, std::string> Membership::address_map() const {
  std::map<raft::NodeId, std::string> out;
  for (const auto& [id, member] : kv_.members()) out[id] = address_part(member);
  return out;
}

std::optional<raft::NodeId> Membership::member_at(const PeerAddress& address) const {
  for (const auto& [id, member] : kv_.members()) {
    if (address_part(member) == address.to_string()) return id;
  }
  return std::nullopt;
}

Status Membership::identify(const PeerAddress& address, const std::string& key, raft::NodeId* id,
                            std::string* member) const {
  if (!secure_) {
    *id = node_id_of(address);
    *member = address.to_string();
    return {};
  }
  std::string why;
  if (key.empty()) return Status::error("a new peer needs its public key (add-peer HOST:PORT --key KEY)");
  auto parsed = crypto::PublicKey::parse(key, &why);
  if (!parsed) return Status::error(why);
  *id = crypto::node_id_of_key(*parsed);
  *member = address.to_string() + "=" + key;
  return {};
}

}  // namespace fednode
