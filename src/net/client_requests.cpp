#include "fednode/net/client_requests.h"

namespace fednode {

std::string peer_request(const char* type, const char* action, const PeerAddress& peer, bool learner,
                         const std::string& key) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(4 + (action ? 1 : 0) + (learner ? 1 : 0) + (key.empty() ? 0 : 1));
  p.pack("type");
  p.pack(type);
  p.pack("id");
  p.pack(1);
  if (action) {
    p.pack("action");
    p.pack(action);
  }
  p.pack("address");
  p.pack(peer.host);
  p.pack("port");
  p.pack(peer.port);
  if (learner) {
    p.pack("learner");
    p.pack(true);
  }
  if (!key.empty()) {
    p.pack("key");
    p.pack(key);
  }
  return std::string(b.data(), b.size());
}

std::string status_request(const std::string& type) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(2);
  p.pack("type");
  p.pack(type);
  p.pack("id");
  p.pack(1);
  return std::string(b.data(), b.size());
}

std::vector<std::string> diagnostic_members(const msgpack::object& diagnostic) {
  std::vector<std::string> members;
  const msgpack::object* vol = net::map_field(diagnostic, "volatile");
  const msgpack::object* cluster = vol ? net::map_field(*vol, "cluster") : nullptr;
  const msgpack::object* keys = vol ? net::map_field(*vol, "cluster_keys") : nullptr;
  if (!cluster || cluster->type != msgpack::type::ARRAY) return members;
  for (std::uint32_t i = 0; i < cluster->via.array.size; ++i) {
    std::string address = net::as_string(&cluster->via.array.ptr[i]), key;
    if (keys && keys->type == msgpack::type::MAP) key = net::as_string(net::map_field(*keys, address));
    members.push_back(key.empty() ? address : address + "=" + key);
  }
  return members;
}

Status call_leader(PeerAddress address, const std::string& request, msgpack::object_handle* answer,
                   std::chrono::milliseconds timeout, const ClientConnect& connect) {
  std::string key;
  for (int hop = 0; hop < 5; ++hop) {
    net::ClientConnection c;
    if (Status s = connect(c, address, key); !s.ok()) return s;
    if (Status s = c.call(request, answer, timeout); !s.ok()) return Status::error(address.to_string() + ": " + s.message());
    const auto& o = answer->get();
    if (net::as_string(net::map_field(o, "type")) != "redirect") return {};
    const msgpack::object* leader = net::map_field(o, "leader");
    if (!leader || leader->type != msgpack::type::ARRAY || leader->via.array.size != 2 ||
        leader->via.array.ptr[1].type != msgpack::type::POSITIVE_INTEGER) {
      return Status::error(address.to_string() + " knows no leader yet; try again");
    }
    std::string why;
    auto next = parse_peer_address(net::as_string(&leader->via.array.ptr[0]) + ":" +
                                       std::to_string(leader->via.array.ptr[1].via.u64), &why);
    if (!next) return Status::error("bad redirect from " + address.to_string() + ": " + why);
    key = net::as_string(net::map_field(o, "leader_key"));
    address = *next;
  }
  return Status::error("too many redirects");
}

}  // namespace fednode
