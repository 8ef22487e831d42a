#pragma once
// ClientConnection: a blocking client of the client channel, for `fednode ctl` and tests.
// Sends msgpack maps with an `id` (so the connection stays open) and reads one answer each.
#include <asio.hpp>

#include <chrono>
#include <msgpack.hpp>
#include <string>

#include "fednode/util/msgpack_fields.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

class ClientConnection {
 public:
  ClientConnection();
  Status connect(const PeerAddress& address, std::chrono::milliseconds timeout);
  // Sends raw request bytes and waits for one msgpack answer.
  Status call(const std::string& request_bytes, msgpack::object_handle* answer, std::chrono::milliseconds timeout);
  Status send_raw(const std::string& bytes);
  void close();

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  msgpack::unpacker unpacker_;
};

// Field lookup in a msgpack map; nullptr when absent.
using ::fednode::map_field;  // util/msgpack_fields.h
using ::fednode::as_string;

}  // namespace fednode::net
