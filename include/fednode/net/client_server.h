#pragma once
// ClientServer: the TCP client channel on the node's port, in zatt's framing: the client sends
// msgpack maps without a length prefix (parsed with a streaming unpacker, so a request may
// arrive in many segments); the server answers each with one msgpack map. A request without an
// `id` field gets its answer and the connection is closed (zatt's behaviour); one with an `id`
// gets it echoed and the connection stays open for more (pipelining). A request that is not
// msgpack, not a map, has no string `type`, or exceeds the size bound gets
// {type: error, reason} and the connection is closed. Requests on one connection are served one
// at a time; connections are capped (in all and per address) and closed when idle
// (ConnectionLimits). Runs on the control loop.
#include <asio.hpp>

#include <functional>
#include <memory>
#include <msgpack.hpp>
#include <string>

#include "fednode/crypto/handshake.h"
#include "fednode/net/channel_counters.h"
#include "fednode/net/handshake_worker.h"
#include "fednode/net/tcp_listener.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

// Builds one response map. `id` (nil when absent) is appended as the map's last field.
class Response {
 public:
  explicit Response(std::uint32_t fields, const msgpack::object* id);
  msgpack::packer<msgpack::sbuffer>& pack() { return packer_; }
  std::string bytes() const { return std::string(buffer_.data(), buffer_.size()); }
  void finish();

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
  const msgpack::object* id_;
};

std::string error_response(const std::string& reason, const msgpack::object* id);

// Who sent a request. In secure mode a connection that starts with kSecurePrefix makes the
// handshake of crypto/handshake.h and is then sealed: its caller is an operator (an operator key,
// or this node's own), a joiner (a key admitted to add itself as a learner, --admit-key) or a
// member (another member's node key). zatt's plaintext protocol is
// served to loopback connections only (or from anywhere with --plaintext-clients), as a local
// operator. Without keys (--insecure) every caller is kPlaintext.
enum class ClientCaller { kPlaintext, kMember, kOperator, kJoiner };
inline constexpr char kSecurePrefix[] = "FNS2";  // never the first bytes of a msgpack map
// What fednode 0.1 sent before its own (non-standard) handshake: refused with a reason.
inline constexpr char kLegacySecurePrefix[] = "FNS1";

struct ClientChannelKeys {
  crypto::NodeKey self;
  std::string prologue;
  std::function<Status(const crypto::PublicKey& key, ClientCaller* caller)> admit;
  bool plaintext_anywhere = false;
};

class ClientServer {
 public:
  // close: end the connection after this answer (errors do, whatever the id says).
  using Reply = std::function<void(std::string response_bytes, bool close)>;
  // Handles one request (a msgpack map with a string `type`); must call reply exactly once,
  // now or later. `id` is the request's id field or nullptr; `caller_key` the public key the
  // caller proved (secure mode; "" otherwise).
  using Handler = std::function<void(const msgpack::object& request, const std::string& type,
                                     const msgpack::object* id, Reply reply, ClientCaller caller,
                                     const std::string& caller_key)>;

  ClientServer(asio::io_context& io, std::size_t max_request_bytes, Handler handler, ConnectionLimits limits = {});
  Status listen(const PeerAddress& self);
  void close();
  std::uint16_t port() const;
  const ChannelCounters& counters() const { return *counters_; }
  std::size_t open_connections() const { return gate_->open(); }
  std::uint64_t accept_errors() const { return accept_loop_.accept_errors(); }
  std::size_t unproven_connections() const { return gate_->unproven(); }
  std::uint64_t evicted_connections() const { return gate_->evicted(); }
  std::uint64_t handshakes_skipped() const { return handshakes_.skipped(); }
  void set_keys(std::shared_ptr<const ClientChannelKeys> keys) { keys_ = std::move(keys); }

 private:
  HandshakeWorker handshakes_;  // first: sessions it still answers need it until the end
  asio::ip::tcp::acceptor acceptor_;
  std::size_t max_request_bytes_;
  Handler handler_;
  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
  std::shared_ptr<const ClientChannelKeys> keys_;
  std::shared_ptr<ConnectionGate> gate_;
  AcceptLoop accept_loop_;
};

}  // namespace fednode::net
