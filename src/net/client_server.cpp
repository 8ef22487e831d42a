#include "fednode/net/client_server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <optional>

#include "fednode/util/big_endian.h"
#include "fednode/util/msgpack_fields.h"

#include "fednode/util/msgpack_limits.h"

#include <spdlog/spdlog.h>

#include "fednode/net/loopback_peer_uid.h"
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


// One client connection. Requests on one connection are answered in order, one at a time: the
// next is read only once the previous one's answer is queued and the queue is short, so a client
// that sends without reading answers fills its own socket buffers, not this node's memory.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ConnectionGate::Ticket ticket, std::size_t max_bytes, const ConnectionLimits& limits,
          ClientServer::Handler& handler, std::shared_ptr<ChannelCounters> counters,
          std::shared_ptr<const ClientChannelKeys> keys, HandshakeWorker& handshakes)
      : socket_(std::move(socket)),
        idle_timer_(socket_.get_executor()),
        ticket_(std::move(ticket)),
        max_bytes_(max_bytes),
        idle_(limits.idle),
        handshake_timeout_(std::min(limits.idle, limits.handshake_timeout)),
        handler_(handler),
        handshakes_(handshakes),
        counters_(std::move(counters)),
        keys_(std::move(keys)),
        // A request holds no more elements or bytes than the channel's bound on one request.
        unpacker_(nullptr, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE, input_limit(max_bytes, kMaxClientDepth)) {}
  void start() {
    if (!keys_) return read();
    // Unproven: the gate may close it to make room for newer connections.
    ConnectionGate::evict_on(ticket_, weak_from_this(), socket_.get_executor());
    read_prefix();
  }
  void evicted() {
    ++counters_->connections_refused;
    ++counters_->dropped_in;
    close_now();
  }

 private:
  // The connection proved who it is: it takes a proven place, or is closed with the reason.
  bool proven(bool operator_key) {
    std::string why;
    if (ticket_->gate->prove(ticket_, operator_key, &why)) return true;
    ++counters_->connections_refused;
    ++counters_->dropped_in;
    spdlog::warn("client channel: closed a connection that proved its key: {}", why);
    close_now();
    return false;
  }
  // Every read waits at most the idle timeout for its first bytes (before a key is proved, the
  // handshake timeout).
  template <typename Buffers, typename Then>
  void read_into(const Buffers& buffers, bool whole, Then then) {
    reading_ = true;
    idle_timer_.expires_after(proved_ ? idle_ : handshake_timeout_);
    auto self = shared_from_this();
    // A handler already queued when the timer is re-armed or cancelled must not act: its
    // generation has passed.
    idle_timer_.async_wait([this, self, gen = ++timer_generation_](const std::error_code& ec) {
      if (ec || !reading_ || gen != timer_generation_) return;
      ++counters_->idle_closed;
      close_now();
    });
    auto done = [this, self, then](const std::error_code& ec, std::size_t n) {
      reading_ = false;
      idle_timer_.cancel();
      if (ec) return close_now();
      counters_->bytes_in += n;
      then(n);
    };
    if (whole) {
      asio::async_read(socket_, buffers, done);
    } else {
      socket_.async_read_some(buffers, done);
    }
  }

  // Secure mode: a sealed connection announces itself; anything else is zatt's plaintext.
  void read_prefix() {
    read_into(asio::buffer(prefix_ + prefix_len_, sizeof prefix_ - prefix_len_), false, [this](std::size_t n) {
      prefix_len_ += n;
      bool could_be_sealed = std::memcmp(prefix_, kSecurePrefix, prefix_len_) == 0;
      if (could_be_sealed && prefix_len_ < sizeof prefix_) return read_prefix();
      if (could_be_sealed) return read_handshake();
      if (prefix_len_ == sizeof prefix_ && std::memcmp(prefix_, kLegacySecurePrefix, sizeof prefix_) == 0) {
        ++counters_->auth_failed;
        return fail("this client speaks fednode 0.1's handshake; this node speaks Noise IK (fednode 0.2): upgrade the client");
      }
      // zatt's plaintext protocol (a request is a msgpack map: it never starts like the prefix).
      std::string why;
      if (!keys_->plaintext_anywhere && !local_operator(&why)) {
        ++counters_->auth_failed;
        return fail(why);
      }
      if (!proven(!keys_->plaintext_anywhere)) return;
      proved_ = true;
      feed(prefix_, prefix_len_);
    });
  }
  // zatt's plaintext protocol, without --plaintext-clients: a connection from loopback whose
  // socket belongs to this node's own user (the kernel says whose: sock_diag), as a local
  // operator. Another local user, root included (a root-run forwarder would hand the node to
  // whoever reaches it), uses fednode ctl --key-file like anyone else.
  bool local_operator(std::string* why) {
    std::error_code e1, e2;
    auto remote = socket_.remote_endpoint(e1);
    auto local = socket_.local_endpoint(e2);
    if (e1 || e2 || !remote.address().is_loopback()) {
      *why = "plaintext clients are served on loopback only: use fednode ctl --key-file";
      return false;
    }
    auto uid = loopback_peer_uid(local, remote);
    if (!uid) {
      *why = "plaintext client on loopback: cannot tell which user it runs as; use fednode ctl --key-file";
      return false;
    }
    if (*uid != ::geteuid()) {
      *why = "plaintext clients on loopback are served to this node's user (uid " + std::to_string(::geteuid()) +
             ") only, not uid " + std::to_string(*uid) + ": use fednode ctl --key-file";
      return false;
    }
    return true;
  }
  void read_handshake() {
    handshake_.resize(crypto::kHandshakeRequestBytes);
    read_into(asio::buffer(handshake_), true, [this](std::size_t) {
      auto self = shared_from_this();
      reading_ = true;  // the handshake timeout still runs while the worker has it
      idle_timer_.expires_after(handshake_timeout_);
      idle_timer_.async_wait([this, self, gen = ++timer_generation_](const std::error_code& ec) {
        if (ec || !reading_ || gen != timer_generation_) return;
        ++counters_->idle_closed;
        close_now();
      });
      ticket_->gate->handshake_received(ticket_);
      handshakes_.respond(ticket_->remote, std::shared_ptr<const crypto::NodeKey>(keys_, &keys_->self), keys_->prologue,
                          handshake_, abandoned_, socket_.get_executor(),
                          [this, self](HandshakeWorker::Outcome out) { handshake_done(std::move(out)); });
      // A client that hangs up (or sends more) before its answer abandons the handshake: the
      // worker then skips it.
      socket_.async_read_some(asio::buffer(&watch_byte_, 1), [this, self](const std::error_code& ec, std::size_t) {
        if (ec == asio::error::operation_aborted && !closing_) return;  // the answer is on its way
        close_now();
      });
    });
  }
  void handshake_done(HandshakeWorker::Outcome out) {
    reading_ = false;
    ++timer_generation_;
    idle_timer_.cancel();
    if (closing_) return;  // timed out or evicted meanwhile
    if (out.dropped) {  // the worker made room for other addresses' handshakes: this client may try again
      ++counters_->connections_refused;
      ++counters_->dropped_in;
      return close_now();
    }
    std::error_code ignored;
    socket_.cancel(ignored);  // the hang-up watch
    if (out.status.ok()) out.status = keys_->admit(out.initiator, &caller_);
    if (!out.status.ok()) {
      ++counters_->auth_failed;
      return close_now();
    }
    // Still unproven: a recorded first handshake message replays as often as one likes, so the
    // connection proves its key (and an operator's escapes the limits) with its first frame,
    // which only the holder of the key and of this handshake's ephemeral keys can seal.
    caller_key_ = out.initiator.text();
    session_.emplace(std::move(out.session));
    queue_write(std::move(out.response), false);
    read();
  }
  void read() {
    if (session_) return read_frame();
    unpacker_.reserve_buffer(16384);
    read_into(asio::buffer(unpacker_.buffer(), unpacker_.buffer_capacity()), false, [this](std::size_t n) {
      unpacker_.buffer_consumed(n);
      drain();
    });
  }
  // A sealed frame: its plaintext goes to the same unpacker as a plaintext stream's bytes.
  void read_frame() {
    read_into(asio::buffer(prefix_), true, [this](std::size_t) {
      std::size_t n = get_be(prefix_, 4);
      if (n > max_bytes_ + 16) return fail("request larger than " + std::to_string(max_bytes_) + " bytes");
      frame_.resize(n);
      read_into(asio::buffer(frame_), true, [this](std::size_t) {
        std::string plain;
        if (!session_->receive.open(frame_, &plain).ok()) {
          ++counters_->auth_failed;
          return close_now();
        }
        if (!proved_) {
          if (!proven(caller_ == ClientCaller::kOperator)) return;
          proved_ = true;
        }
        feed(plain.data(), plain.size());
      });
    });
  }
  void feed(const char* data, std::size_t size) {
    unpacker_.reserve_buffer(size);
    std::memcpy(unpacker_.buffer(), data, size);
    unpacker_.buffer_consumed(size);
    drain();
  }

  // Serves the requests already received, one after another, then reads more. A loop rather than
  // a call per answer: a handler that answers at once must not deepen the stack per request.
  void drain() {
    while (!closing_ && !busy_ && queued_bytes_ <= kMaxQueuedBytes) {
      if (unpacker_.nonparsed_size() > max_bytes_) {
        return fail("request larger than " + std::to_string(max_bytes_) + " bytes");
      }
      msgpack::object_handle handle;
      try {
        if (!unpacker_.next(handle)) return read();
      } catch (const std::exception& e) {
        return fail(std::string("not msgpack: ") + e.what());
      }
      dispatch(std::move(handle));
    }
  }
  void dispatch(msgpack::object_handle handle) {
    ++counters_->messages_in;
    const msgpack::object& req = handle.get();
    if (req.type != msgpack::type::MAP) return fail("request is not a map");
    const msgpack::object* type = map_field(req, "type");
    if (!type || type->type != msgpack::type::STR) return fail("request has no string field 'type'");
    // Keep the request alive until the handler replies (the reply may come later).
    auto zone = std::make_shared<msgpack::object_handle>(std::move(handle));
    const msgpack::object* id = map_field(zone->get(), "id");
    bool keep_open = id != nullptr;
    busy_ = true;
    in_handler_ = true;
    auto self = shared_from_this();
    handler_(zone->get(), std::string(type->via.str.ptr, type->via.str.size), id,
             [this, self, zone, keep_open](std::string bytes, bool close) {
               write(std::move(bytes), close || !keep_open);
               busy_ = false;
               if (!in_handler_) drain();  // an answer that came later resumes the loop
             },
             session_ ? caller_ : ClientCaller::kPlaintext, session_ ? caller_key_ : std::string());
    in_handler_ = false;
  }

  void fail(const std::string& reason) {
    ++counters_->dropped_in;
    write(error_response(reason, nullptr), true);
  }

  void write(std::string bytes, bool close_after) {
    ++counters_->messages_out;
    queue_write(session_ ? session_->send.seal(bytes) : std::move(bytes), close_after);
  }
  // One write at a time on the socket; the rest wait their turn in order.
  void queue_write(std::string bytes, bool close_after) {
    if (closing_) return;
    closing_ = close_after;
    counters_->bytes_out += bytes.size();
    queued_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    if (queue_.size() == 1) write_next();
  }
  void write_next() {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(queue_.front()), [this, self](const std::error_code& ec, std::size_t) {
      if (ec) return close_now();
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
      if (!queue_.empty()) return write_next();
      if (closing_) return close_now();
      if (!busy_ && !reading_) drain();  // the queue was full: serve what waits
    });
  }
  // The queue stays: a write under way still points into its front string until it completes.
  void close_now() {
    closing_ = true;
    abandoned_->store(true);
    idle_timer_.cancel();
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  static constexpr std::size_t kMaxQueuedBytes = 1u << 20;
  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  ConnectionGate::Ticket ticket_;
  std::size_t max_bytes_;
  std::chrono::milliseconds idle_, handshake_timeout_;
  ClientServer::Handler& handler_;
  HandshakeWorker& handshakes_;
  std::shared_ptr<ChannelCounters> counters_;
  std::shared_ptr<const ClientChannelKeys> keys_;
  msgpack::unpacker unpacker_;
  char prefix_[4] = {};
  std::size_t prefix_len_ = 0;
  std::string handshake_, frame_;
  std::optional<crypto::SecureSession> session_;
  ClientCaller caller_ = ClientCaller::kMember;
  std::string caller_key_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false, busy_ = false, in_handler_ = false, reading_ = false;
  bool proved_ = false;  // a key proved, or a local plaintext operator (secure mode)
  std::shared_ptr<std::atomic<bool>> abandoned_ = std::make_shared<std::atomic<bool>>(false);
  char watch_byte_ = 0;
  std::uint64_t timer_generation_ = 0;
};

}  // namespace

ClientServer::ClientServer(asio::io_context& io, std::size_t max_request_bytes, Handler handler, ConnectionLimits limits)
    : acceptor_(io),
      max_request_bytes_(max_request_bytes),
      handler_(std::move(handler)),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "client channel", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // answers are small and latency-bound
        std::make_shared<Session>(std::move(socket), std::move(t), max_request_bytes_, gate_->limits(), handler_,
                                  counters_, keys_, handshakes_)
            ->start();
      }, [this] { return keys_ != nullptr; }) {}

Status ClientServer::listen(const PeerAddress& self) {
  if (Status s = open_listener(acceptor_, self, "TCP"); !s.ok()) return s;
  accept_loop_.start();
  return {};
}

std::uint16_t ClientServer::port() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void ClientServer::close() {
  std::error_code ec;
  acceptor_.close(ec);
  accept_loop_.stop();
}

}  // namespace fednode::net
