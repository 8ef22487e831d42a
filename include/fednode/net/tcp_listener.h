#pragma once
// Opening a TCP listener on a peer address, shared by the client channel and the data plane.
#include <asio.hpp>

#include <string>

#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

// Resolves `address` (IPv4), then opens, binds (with SO_REUSEADDR) and listens on `acceptor`.
// `channel` names the listener in errors ("TCP", "data plane").
Status open_listener(asio::ip::tcp::acceptor& acceptor, const PeerAddress& address, const std::string& channel);

}  // namespace fednode::net
