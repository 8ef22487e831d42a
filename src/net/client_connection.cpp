#include "fednode/net/client_connection.h"

namespace fednode::net {

using asio::ip::tcp;

ClientConnection::ClientConnection() : socket_(io_) {}

Status ClientConnection::connect(const PeerAddress& address, std::chrono::milliseconds timeout) {
  std::error_code ec;
  tcp::resolver resolver(io_);
  auto results = resolver.resolve(tcp::v4(), address.host, std::to_string(address.port), ec);
  if (ec) return Status::error("cannot resolve " + address.to_string() + ": " + ec.message());
  std::error_code result = asio::error::would_block;
  asio::async_connect(socket_, results, [&](const std::error_code& e, const tcp::endpoint&) { result = e; });
  io_.restart();
  io_.run_for(timeout);
  if (result == asio::error::would_block) {
    socket_.close(ec);
    return Status::error("timed out connecting to " + address.to_string());
  }
  if (result) return Status::error("cannot connect to " + address.to_string() + ": " + result.message());
  socket_.set_option(tcp::no_delay(true), ec);
  return {};
}

Status ClientConnection::send_raw(const std::string& bytes) {
  std::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
  if (ec) return Status::error("send failed: " + ec.message());
  return {};
}

Status ClientConnection::call(const std::string& request, msgpack::object_handle* answer, std::chrono::milliseconds timeout) {
  if (Status s = send_raw(request); !s.ok()) return s;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (unpacker_.next(*answer)) return {};
    } catch (const std::exception& e) {
      return Status::error(std::string("bad answer: ") + e.what());
    }
    unpacker_.reserve_buffer(16384);
    std::error_code result = asio::error::would_block;
    std::size_t got = 0;
    socket_.async_read_some(asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()),
                            [&](const std::error_code& e, std::size_t n) { result = e; got = n; });
    io_.restart();
    io_.run_until(deadline);
    if (result == asio::error::would_block) {
      std::error_code ec;
      socket_.cancel(ec);
      io_.restart();
      io_.run();
      return Status::error("timed out waiting for an answer");
    }
    if (result) return Status::error("connection closed: " + result.message());
    unpacker_.buffer_consumed(got);
  }
}

void ClientConnection::close() {
  std::error_code ec;
  socket_.close(ec);
}

}  // namespace fednode::net
