#include "fednode/net/tcp_listener.h"

namespace fednode::net {

using asio::ip::tcp;

Status open_listener(tcp::acceptor& acceptor, const PeerAddress& address, const std::string& channel) {
  std::error_code ec;
  tcp::resolver resolver(acceptor.get_executor());
  auto results = resolver.resolve(tcp::v4(), address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) return Status::error("cannot resolve " + address.to_string() + ": " + ec.message());
  tcp::endpoint ep = *results.begin();
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::error("cannot listen on " + channel + " " + address.to_string() + ": " + ec.message());
  return {};
}

}  // namespace fednode::net
