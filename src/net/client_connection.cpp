#include "fednode/net/client_connection.h"

#include <cstring>

#include <thread>

#include "fednode/net/client_server.h"
#include "fednode/util/big_endian.h"

namespace fednode::net {

using asio::ip::tcp;

ClientConnection::ClientConnection() : socket_(io_) {}

Status ClientConnection::connect(const PeerAddress& address, std::chrono::milliseconds timeout) {
  // A node under a flood of connections may close one before it has checked its handshake (to
  // make room for newer ones, or with its handshake worker full): trying again costs a round trip.
  constexpr int kTries = 3;
  for (int attempt = 1;; ++attempt) {
    bool closed_in_handshake = false;
    Status s = connect_once(address, timeout, &closed_in_handshake);
    if (s.ok() || !closed_in_handshake) return s;
    if (attempt == kTries) {
      return Status::error(address.to_string() + " closed the connection during the handshake, " +
                           std::to_string(kTries) + " times (" + s.message() +
                           "): is the key an operator's or a member's, and is --cluster-id the group's (scripts/run.sh's "
                           "peers use fednode-local4)? (or the node is flooded with connections)");
    }
    std::error_code ignored;
    socket_.close(ignored);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
}

Status ClientConnection::connect_once(const PeerAddress& address, std::chrono::milliseconds timeout,
                                      bool* closed_in_handshake) {
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
  if (!keys_) return {};
  crypto::HandshakeInitiator hi(keys_->self, keys_->server, keys_->prologue);
  if (Status s = send_raw(std::string(kSecurePrefix, 4) + hi.request()); !s.ok()) return s;
  std::string response;
  if (Status s = read_exactly(&response, crypto::kHandshakeResponseBytes, std::chrono::steady_clock::now() + timeout);
      !s.ok()) {
    *closed_in_handshake = true;
    return s;
  }
  session_.emplace();
  if (Status s = hi.finish(response, &*session_); !s.ok()) {
    session_.reset();
    return Status::error(address.to_string() + ": " + s.message());
  }
  return {};
}

// Runs the connection's io until the pending operation sets `result` or the deadline passes
// (then the operation is cancelled and `timeout` is the error).
Status ClientConnection::wait(const std::error_code& result, std::chrono::steady_clock::time_point deadline,
                              const char* timeout) {
  io_.restart();
  io_.run_until(deadline);
  if (result == asio::error::would_block) {
    std::error_code ec;
    socket_.cancel(ec);
    io_.restart();
    io_.run();
    return Status::error(timeout);
  }
  if (result) return Status::error("connection closed: " + result.message());
  return {};
}

Status ClientConnection::read_exactly(std::string* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  out->resize(n);
  std::error_code result = asio::error::would_block;
  asio::async_read(socket_, asio::buffer(*out), [&](const std::error_code& e, std::size_t) { result = e; });
  return wait(result, deadline, "timed out");
}

// Secure mode: one sealed frame, its plaintext appended to the unpacker's input.
Status ClientConnection::read_sealed(std::chrono::steady_clock::time_point deadline) {
  std::string header, frame, plain;
  if (Status s = read_exactly(&header, 4, deadline); !s.ok()) return s;
  std::size_t n = get_be(header.data(), 4);
  if (n > (64u << 20)) return Status::error("answer frame of " + std::to_string(n) + " bytes is too large");
  if (Status s = read_exactly(&frame, n, deadline); !s.ok()) return s;
  if (Status s = session_->receive.open(frame, &plain); !s.ok()) return s;
  unpacker_.reserve_buffer(plain.size());
  std::memcpy(unpacker_.buffer(), plain.data(), plain.size());
  unpacker_.buffer_consumed(plain.size());
  return {};
}

// Plaintext: whatever bytes have arrived, into the unpacker.
Status ClientConnection::read_plain(std::chrono::steady_clock::time_point deadline) {
  unpacker_.reserve_buffer(16384);
  std::error_code result = asio::error::would_block;
  std::size_t got = 0;
  socket_.async_read_some(asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()),
                          [&](const std::error_code& e, std::size_t n) { result = e; got = n; });
  if (Status s = wait(result, deadline, "timed out waiting for an answer"); !s.ok()) return s;
  unpacker_.buffer_consumed(got);
  return {};
}

Status ClientConnection::send_raw(const std::string& bytes) {
  std::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
  if (ec) return Status::error("send failed: " + ec.message());
  return {};
}

Status ClientConnection::call(const std::string& request, msgpack::object_handle* answer, std::chrono::milliseconds timeout) {
  if (Status s = send_raw(session_ ? session_->send.seal(request) : request); !s.ok()) return s;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      if (unpacker_.next(*answer)) return {};
    } catch (const std::exception& e) {
      return Status::error(std::string("bad answer: ") + e.what());
    }
    if (Status s = session_ ? read_sealed(deadline) : read_plain(deadline); !s.ok()) return s;
  }
}

void ClientConnection::close() {
  std::error_code ec;
  socket_.close(ec);
}

}  // namespace fednode::net
