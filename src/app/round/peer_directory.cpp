#include "fednode/app/round/peer_directory.h"

#include <msgpack.hpp>

#include <chrono>

#include "fednode/net/client_requests.h"
#include "fednode/net/client_connection.h"

namespace fednode {

PeerDirectory& PeerDirectory::shared() {
  static auto* directory = new PeerDirectory;
  return *directory;
}

void PeerDirectory::forget(const std::string& peer) {
  std::lock_guard lock(mu_);
  known_.erase(peer);
}

std::optional<PeerAddress> PeerDirectory::data_address(const std::string& peer, const net::ClientKeys* keys) {
  {
    std::lock_guard lock(mu_);
    if (auto it = known_.find(peer); it != known_.end()) return it->second;
  }
  std::string why;
  auto addr = parse_peer_address(peer, &why);
  if (!addr) return std::nullopt;
  net::ClientConnection c;
  if (keys) c.set_keys(*keys);
  msgpack::object_handle h;
  const auto timeout = std::chrono::milliseconds(2000);
  if (!c.connect(*addr, timeout).ok() || !c.call(status_request("diagnostic"), &h, timeout).ok()) return std::nullopt;
  const msgpack::object* port = net::map_field(h.get(), "data_port");
  if (!port || port->type != msgpack::type::POSITIVE_INTEGER || port->via.u64 == 0 || port->via.u64 > 65535) {
    return std::nullopt;
  }
  PeerAddress data{addr->host, static_cast<std::uint16_t>(port->via.u64)};
  std::lock_guard lock(mu_);
  known_[peer] = data;
  return data;
}

}  // namespace fednode
