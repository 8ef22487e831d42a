#pragma once
// Which user owns the other end of a TCP connection on this machine: the kernel's socket table,
// asked through netlink's sock_diag for the one socket whose source is the connection's remote
// end and whose destination is its local end. For loopback connections, where SO_PEERCRED
// (Unix sockets only) is not available. Nothing when the kernel does not say (the peer is gone,
// sock_diag is missing), or when that socket is not an established one with an owner (a client
// that closed at once leaves a TIME_WAIT socket the kernel reports as root's). Blocking but
// quick: one netlink round trip of a few hundred bytes.
#include <sys/types.h>

#include <asio.hpp>
#include <optional>

namespace fednode::net {

std::optional<uid_t> loopback_peer_uid(const asio::ip::tcp::endpoint& local, const asio::ip::tcp::endpoint& remote);

}  // namespace fednode::net
