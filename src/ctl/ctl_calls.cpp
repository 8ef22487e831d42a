// ctl's connection to nodes: its keys (--key-file, --server-key, --cluster-id, and the keys it
// learns from redirects and member lists), sealed or plaintext calls, and reading answers.
#include "fednode/ctl/ctl_calls.h"

#include "fednode/net/client_requests.h"

namespace fednode {

CtlKeys& ctl_keys() {
  static CtlKeys keys;
  return keys;
}

std::optional<net::SecureCall> ctl_data_call(const PeerAddress& node) {
  const CtlKeys& k = ctl_keys();
  if (!k.self) return std::nullopt;
  auto known = k.known.find(node.to_string());
  std::string why;
  auto server = crypto::PublicKey::parse(known != k.known.end() ? known->second : k.default_server, &why);
  if (!server) return std::nullopt;
  return net::SecureCall{*k.self, *server, net::data_plane_prologue(k.cluster_id)};
}

void ctl_learn_key(const std::string& address, const std::string& key) {
  if (!key.empty()) ctl_keys().known[address] = key;
}

std::uint64_t ctl_u64_at(const msgpack::object& map, std::initializer_list<const char*> path) {
  const msgpack::object* o = &map;
  for (const char* key : path) {
    o = net::map_field(*o, key);
    if (!o) return 0;
  }
  return o->type == msgpack::type::POSITIVE_INTEGER ? o->via.u64 : 0;
}

std::vector<std::string> ctl_members_of(const msgpack::object& diagnostic) {
  std::vector<std::string> addresses;
  for (const std::string& member : diagnostic_members(diagnostic)) {
    auto eq = member.find('=');
    addresses.push_back(member.substr(0, eq));
    if (eq != std::string::npos) ctl_learn_key(addresses.back(), member.substr(eq + 1));
  }
  return addresses;
}

bool ctl_has_key() { return ctl_keys().self.has_value(); }

Status ctl_connect(net::ClientConnection& c, const PeerAddress& address, std::chrono::milliseconds timeout) {
  const CtlKeys& k = ctl_keys();
  if (k.self) {
    auto known = k.known.find(address.to_string());
    std::string text = known != k.known.end() ? known->second : k.default_server, why;
    auto server = crypto::PublicKey::parse(text, &why);
    if (!server) return Status::error(address.to_string() + ": no key known for it (--server-key): " + why);
    c.set_keys(net::ClientKeys{*k.self, *server, net::client_channel_prologue(k.cluster_id)});
  }
  return c.connect(address, timeout);
}
Status ctl_ask(const PeerAddress& address, const std::string& type, msgpack::object_handle* answer,
               std::chrono::milliseconds timeout) {
  net::ClientConnection c;
  if (Status s = ctl_connect(c, address, timeout); !s.ok()) return s;
  if (Status s = c.call(status_request(type), answer, timeout); !s.ok()) return Status::error(address.to_string() + ": " + s.message());
  return ctl_check_answer(address, answer->get());
}

Status ctl_check_answer(const PeerAddress& address, const msgpack::object& answer) {
  if (answer.type != msgpack::type::MAP) {
    return Status::error(address.to_string() + " answered with something that is not a fednode answer (not a msgpack map): "
                         "is a fednode node listening there?");
  }
  return {};
}

}  // namespace fednode
