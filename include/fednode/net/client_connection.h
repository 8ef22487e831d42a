#pragma once
// ClientConnection: a blocking client of the client channel, for `fednode ctl` and tests.
// Sends msgpack maps with an `id` (so the connection stays open) and reads one answer each.
#include <asio.hpp>

#include <chrono>
#include <optional>
#include <msgpack.hpp>
#include <string>

#include "fednode/crypto/handshake.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

// The client side of a sealed client-channel connection (secure mode).
struct ClientKeys {
  crypto::NodeKey self;      // an operator key, or this node's own
  crypto::PublicKey server;  // the key the node at the address must hold
  std::string prologue;
};

class ClientConnection {
 public:
  ClientConnection();
  // With keys, connect() also makes the handshake (three tries when the server closes the
  // connection before answering it) and every call is sealed.
  void set_keys(const ClientKeys& keys) { keys_ = keys; }
  Status connect(const PeerAddress& address, std::chrono::milliseconds timeout);
  // Sends raw request bytes and waits for one msgpack answer.
  Status call(const std::string& request_bytes, msgpack::object_handle* answer, std::chrono::milliseconds timeout);
  Status send_raw(const std::string& bytes);
  void close();

 private:
  asio::io_context io_;
  Status connect_once(const PeerAddress& address, std::chrono::milliseconds timeout, bool* closed_in_handshake);
  Status read_exactly(std::string* out, std::size_t n, std::chrono::steady_clock::time_point deadline);
  Status read_sealed(std::chrono::steady_clock::time_point deadline);
  Status read_plain(std::chrono::steady_clock::time_point deadline);
  Status wait(const std::error_code& result, std::chrono::steady_clock::time_point deadline, const char* timeout);
  asio::ip::tcp::socket socket_;
  msgpack::unpacker unpacker_;
  std::optional<ClientKeys> keys_;
  std::optional<crypto::SecureSession> session_;
};

// The prologue of the client channel's handshake (both ends must agree).
inline std::string client_channel_prologue(const std::string& cluster_id) {
  return "fednode client channel 1 " + cluster_id;
}

// Field lookup in a msgpack map; nullptr when absent.
using ::fednode::map_field;  // util/msgpack_fields.h
using ::fednode::is_true;
using ::fednode::as_string;

}  // namespace fednode::net
