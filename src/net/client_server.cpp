#include "fednode/net/client_server.h"

#include <cstring>
#include <optional>

#include "fednode/util/big_endian.h"
#include "fednode/util/msgpack_fields.h"

#include "fednode/util/msgpack_limits.h"

#include <spdlog/spdlog.h>

#include "fednode/net/tcp_listener.h"

namespace fednode::net {

using asio::ip::tcp;

Response::Response(std::uint32_t fields, const msgpack::object* id) : packer_(buffer_), id_(id) {
  packer_.pack_map(fields + (id ? 1 : 0));
}

void Response::finish() {
  if (id_) {
    packer_.pack("id");
    packer_.pack(*id_);
  }
}

std::string error_response(const std::string& reason, const msgpack::object* id) {
  Response r(2, id);
  r.pack().pack("type");
  r.pack().pack("error");
  r.pack().pack("reason");
  r.pack().pack(reason);
  r.finish();
  return r.bytes();
}

namespace {


// One client connection. Requests on one connection are answered in order.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::size_t max_bytes, ClientServer::Handler& handler,
          std::shared_ptr<ChannelCounters> counters, std::shared_ptr<const ClientChannelKeys> keys)
      : socket_(std::move(socket)),
        max_bytes_(max_bytes),
        handler_(handler),
        counters_(std::move(counters)),
        keys_(std::move(keys)),
        // A request holds no more elements or bytes than the channel's bound on one request.
        unpacker_(nullptr, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE, input_limit(max_bytes, kMaxClientDepth)) {}
  void start() { keys_ ? read_prefix() : read(); }

 private:
  // Secure mode: a sealed connection announces itself; anything else is zatt's plaintext.
  void read_prefix() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(prefix_ + prefix_len_, sizeof prefix_ - prefix_len_),
                            [this, self](const std::error_code& ec, std::size_t n) {
      if (ec) return;
      counters_->bytes_in += n;
      prefix_len_ += n;
      bool could_be_sealed = std::memcmp(prefix_, kSecurePrefix, prefix_len_) == 0;
      if (could_be_sealed && prefix_len_ < sizeof prefix_) return read_prefix();
      if (could_be_sealed) return read_handshake();
      // zatt's plaintext protocol (a request is a msgpack map: it never starts like the prefix).
      std::error_code e;
      auto remote = socket_.remote_endpoint(e);
      if (!keys_->plaintext_anywhere && (e || !remote.address().is_loopback())) {
        ++counters_->auth_failed;
        return fail("plaintext clients are served on loopback only: use fednode ctl --key-file");
      }
      unpacker_.reserve_buffer(prefix_len_);
      std::memcpy(unpacker_.buffer(), prefix_, prefix_len_);
      unpacker_.buffer_consumed(prefix_len_);
      drain();
    });
  }
  void read_handshake() {
    auto self = shared_from_this();
    handshake_.resize(crypto::kHandshakeRequestBytes);
    asio::async_read(socket_, asio::buffer(handshake_), [this, self](const std::error_code& ec, std::size_t n) {
      if (ec) return;
      counters_->bytes_in += n;
      std::string response;
      session_.emplace();
      Status s = crypto::handshake_respond(keys_->self, keys_->prologue, handshake_, [this](const crypto::PublicKey& k) {
        return keys_->admit(k, &caller_);
      }, &response, &*session_);
      if (!s.ok()) {
        ++counters_->auth_failed;
        session_.reset();
        std::error_code e;
        socket_.close(e);
        return;
      }
      write_raw(std::move(response), false);
      read();
    });
  }
  void read() {
    if (session_) return read_frame();
    auto self = shared_from_this();
    unpacker_.reserve_buffer(16384);
    socket_.async_read_some(asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()),
                            [this, self](const std::error_code& ec, std::size_t n) {
                              if (ec) return;
                              counters_->bytes_in += n;
                              unpacker_.buffer_consumed(n);
                              if (unpacker_.nonparsed_size() > max_bytes_) {
                                fail("request larger than " + std::to_string(max_bytes_) + " bytes");
                                return;
                              }
                              drain();
                            });
  }
  // A sealed frame: its plaintext goes to the same unpacker as a plaintext stream's bytes.
  void read_frame() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(prefix_), [this, self](const std::error_code& ec, std::size_t) {
      if (ec) return;
      std::size_t n = get_be(prefix_, 4);
      if (n > max_bytes_ + 16) return fail("request larger than " + std::to_string(max_bytes_) + " bytes");
      frame_.resize(n);
      asio::async_read(socket_, asio::buffer(frame_), [this, self](const std::error_code& e, std::size_t got) {
        if (e) return;
        counters_->bytes_in += 4 + got;
        std::string plain;
        if (!session_->receive.open(frame_, &plain).ok()) {
          ++counters_->auth_failed;
          std::error_code ignored;
          socket_.close(ignored);
          return;
        }
        if (unpacker_.nonparsed_size() + plain.size() > max_bytes_) {
          return fail("request larger than " + std::to_string(max_bytes_) + " bytes");
        }
        unpacker_.reserve_buffer(plain.size());
        std::memcpy(unpacker_.buffer(), plain.data(), plain.size());
        unpacker_.buffer_consumed(plain.size());
        drain();
      });
    });
  }

  void drain() {
    msgpack::object_handle handle;
    try {
      if (!unpacker_.next(handle)) {
        if (!closing_) read();
        return;
      }
    } catch (const std::exception& e) {
      fail(std::string("not msgpack: ") + e.what());
      return;
    }
    ++counters_->messages_in;
    const msgpack::object& req = handle.get();
    if (req.type != msgpack::type::MAP) {
      fail("request is not a map");
      return;
    }
    const msgpack::object* type = map_field(req, "type");
    if (!type || type->type != msgpack::type::STR) {
      fail("request has no string field 'type'");
      return;
    }
    // Keep the request alive until the handler replies (the reply may come later).
    auto zone = std::make_shared<msgpack::object_handle>(std::move(handle));
    const msgpack::object* id = map_field(zone->get(), "id");
    bool keep_open = id != nullptr;
    auto self = shared_from_this();
    handler_(zone->get(), std::string(type->via.str.ptr, type->via.str.size), id,
             [this, self, zone, keep_open](std::string bytes, bool close) {
               write(std::move(bytes), close || !keep_open);
               if (keep_open && !close) drain();
             },
             session_ ? caller_ : ClientCaller::kPlaintext);
  }

  void fail(const std::string& reason) {
    write(error_response(reason, nullptr), true);
  }

  void write(std::string bytes, bool close_after) {
    ++counters_->messages_out;
    write_raw(session_ ? session_->send.seal(bytes) : std::move(bytes), close_after);
  }
  void write_raw(std::string bytes, bool close_after) {
    closing_ = closing_ || close_after;
    counters_->bytes_out += bytes.size();
    auto self = shared_from_this();
    auto data = std::make_shared<std::string>(std::move(bytes));
    asio::async_write(socket_, asio::buffer(*data), [this, self, data, close_after](const std::error_code&, std::size_t) {
      if (close_after) {
        std::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
      }
    });
  }

  tcp::socket socket_;
  std::size_t max_bytes_;
  ClientServer::Handler& handler_;
  std::shared_ptr<ChannelCounters> counters_;
  std::shared_ptr<const ClientChannelKeys> keys_;
  msgpack::unpacker unpacker_;
  char prefix_[4] = {};
  std::size_t prefix_len_ = 0;
  std::string handshake_, frame_;
  std::optional<crypto::SecureSession> session_;
  ClientCaller caller_ = ClientCaller::kMember;
  bool closing_ = false;
};

}  // namespace

ClientServer::ClientServer(asio::io_context& io, std::size_t max_request_bytes, Handler handler)
    : acceptor_(io), max_request_bytes_(max_request_bytes), handler_(std::move(handler)) {}

Status ClientServer::listen(const PeerAddress& self) {
  if (Status s = open_listener(acceptor_, self, "TCP"); !s.ok()) return s;
  accept();
  return {};
}

void ClientServer::accept() {
  acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // answers are small and latency-bound
      std::make_shared<Session>(std::move(socket), max_request_bytes_, handler_, counters_, keys_)->start();
    }
    if (acceptor_.is_open()) accept();
  });
}

void ClientServer::close() {
  std::error_code ec;
  acceptor_.close(ec);
}

}  // namespace fednode::net
