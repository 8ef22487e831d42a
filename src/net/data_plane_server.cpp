#include "fednode/net/data_plane.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "data_plane_frames.h"
#include "partial_uploads.h"
#include "fednode/net/tcp_listener.h"
#include "fednode/util/blob_id.h"

namespace fednode::net {

using asio::ip::tcp;
using frames::answer;
using frames::frame;
using frames::frame_length;

// A ranged fetch reads its blob once for all its ranges (and all the trainers fetching the same
// model), not once a range: the two blobs read last, shared by every connection.
struct RecentBlobs {
  std::mutex mu;
  std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> blobs;  // newest last

  Status get(BlobStore& store, const std::string& id, std::shared_ptr<const std::string>* out) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [held, bytes] : blobs) {
        if (held == id) {
          *out = bytes;
          return {};
        }
      }
    }
    auto bytes = std::make_shared<std::string>();
    if (Status s = store.get_bytes(id, bytes.get()); !s.ok()) return s;  // checked against its id
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [held, copy] : blobs) {  // read meanwhile by another thread: one copy is held
      if (held == id) {
        *out = copy;
        return {};
      }
    }
    blobs.emplace_back(id, bytes);
    if (blobs.size() > 2) blobs.erase(blobs.begin());
    *out = std::move(bytes);
    return {};
  }
};

namespace {

// What a blob thread made of one request frame, for the control loop to finish.
struct Prepared {
  enum Kind { kClose, kReply, kUpdate } kind = kClose;
  std::string text;  // kClose: the reason; kReply: the framed (sealed) answer
  bool auth_failed = false;
  UpdateNotice notice;  // kUpdate: stored; the handler decides
  bool refused = false;  // kClose: proven, but past the connection limits
};

class DataSession : public std::enable_shared_from_this<DataSession> {
 public:
  DataSession(tcp::socket s, ConnectionGate::Ticket ticket, BlobStore& store, asio::thread_pool& blob_threads,
              std::size_t max_frame, const ConnectionLimits& limits, std::shared_ptr<ChannelCounters> counters,
              std::shared_ptr<DataPlaneServer::UpdateHandler> handler, std::shared_ptr<const DataPlaneKeys> keys,
              HandshakeWorker& handshakes, std::shared_ptr<DataPlaneServer::Warnings> warnings,
              std::shared_ptr<RecentBlobs> recent, std::shared_ptr<PartialUploads> partial)
      : socket_(std::move(s)), timer_(socket_.get_executor()), ticket_(std::move(ticket)), store_(store),
        blob_threads_(blob_threads), max_frame_(max_frame), idle_(limits.idle), handshake_timeout_(std::min(limits.idle, limits.handshake_timeout)),
        counters_(std::move(counters)), handler_(std::move(handler)), keys_(std::move(keys)), handshakes_(handshakes),
        warnings_(std::move(warnings)), recent_(std::move(recent)), partial_(std::move(partial)) {}
  void start() {
    if (!keys_) return read_header();
    // Unproven: the gate may close it to make room for newer connections.
    ConnectionGate::evict_on(ticket_, weak_from_this(), socket_.get_executor());
    read_handshake();
  }
  void evicted() {
    ++counters_->connections_refused;
    ++counters_->dropped_in;
    close_quietly();
  }

 private:
  // Secure mode: the initiator's handshake request, then our answer; strangers are closed. The
  // handshake runs on the worker, admission back here (the membership is the control loop's).
  void read_handshake() {
    arm_timer(handshake_timeout_);
    auto self = shared_from_this();
    handshake_.resize(crypto::kHandshakeRequestBytes);
    asio::async_read(socket_, asio::buffer(handshake_), [this, self](const std::error_code& ec, std::size_t n) {
      if (ec) return close_quietly();
      counters_->bytes_in += n;
      ticket_->gate->handshake_received(ticket_);
      handshakes_.respond(ticket_->remote, std::shared_ptr<const crypto::NodeKey>(keys_, &keys_->self), keys_->prologue,
                          handshake_, abandoned_, socket_.get_executor(),
                          [this, self](HandshakeWorker::Outcome out) { handshake_done(std::move(out)); });
      // A client that hangs up (or sends more) before its answer abandons the handshake: the
      // worker then skips it.
      socket_.async_read_some(asio::buffer(&watch_byte_, 1), [this, self](const std::error_code& ec, std::size_t) {
        if (ec == asio::error::operation_aborted && socket_.is_open()) return;  // the answer is on its way
        close_quietly();
      });
    });
  }
  void handshake_done(HandshakeWorker::Outcome out) {
    if (!socket_.is_open()) return;  // timed out, evicted or hung up meanwhile
    if (out.dropped) {
      ++counters_->connections_refused;
      return close_quietly();
    }
    std::error_code ignored;
    socket_.cancel(ignored);  // the hang-up watch
    arm_timer();              // cancelled with it
    if (out.status.ok()) out.status = keys_->admit(out.initiator, &peer_node_);
    if (!out.status.ok()) {
      ++counters_->auth_failed;
      return close("handshake: " + out.status.message());
    }
    // Still unproven: a recorded first handshake message replays as often as one likes; the
    // first frame, which only the holder of the key and of this handshake's ephemeral keys can
    // seal, proves the connection (prepare()).
    session_.emplace(std::move(out.session));
    {
      auto self = shared_from_this();
      auto out_bytes = std::make_shared<std::string>(std::move(out.response));
      counters_->bytes_out += out_bytes->size();
      asio::async_write(socket_, asio::buffer(*out_bytes), [this, self, out_bytes](const std::error_code& e, std::size_t) {
        if (e) return close_quietly();
        read_header();
      });
    }
  }
  void arm_timer() { arm_timer(idle_); }
  void arm_timer(std::chrono::milliseconds wait) {
    timer_.expires_after(wait);
    auto self = shared_from_this();
    // A handler already queued when the timer is re-armed must not act: its generation passed.
    timer_.async_wait([this, self, wait, gen = ++timer_generation_](const std::error_code& ec) {
      if (ec || gen != timer_generation_) return;
      ++counters_->idle_closed;
      close("idle for " + std::to_string(wait.count()) + " ms");
    });
  }
  void read_header() {
    arm_timer(session_ && !proved_ ? handshake_timeout_ : idle_);  // an unproven one sends its first frame soon
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(header_), [this, self](const std::error_code& ec, std::size_t) {
      if (ec) return close_quietly();
      std::uint32_t n = frame_length(header_);
      if (n > max_frame_) return close("frame of " + std::to_string(n) + " bytes exceeds the bound " + std::to_string(max_frame_));
      body_.clear();
      read_body(n);
    });
  }
  // The body grows as its bytes arrive: a header alone claims no memory, so connections that
  // announce big frames and send nothing cannot exhaust the node.
  void read_body(std::size_t remaining) {
    if (remaining == 0) {
      counters_->bytes_in += 4 + body_.size();
      ++counters_->messages_in;
      return handle();
    }
    auto self = shared_from_this();
    std::size_t n = std::min(remaining, chunk_.size());
    asio::async_read(socket_, asio::buffer(chunk_.data(), n), [this, self, remaining](const std::error_code& ec, std::size_t got) {
      if (ec) return close_quietly();
      body_.append(chunk_.data(), got);
      arm_timer();  // idle means no bytes for a while, not a long transfer
      read_body(remaining - got);
    });
  }
  // Opening, hashing, storing and reading blobs of up to the frame bound take long: a blob thread
  // does them, and the control loop only hands the notice of an update to the round and answers.
  // The session reads nothing meanwhile, so its state is used by one thread at a time.
  void handle() {
    ++timer_generation_;
    timer_.cancel();
    auto self = shared_from_this();
    // `self` moves on, so the session always ends on the control loop, never on a blob thread.
    asio::post(blob_threads_, [this, self]() mutable {
      auto prepared = std::make_shared<Prepared>(prepare());
      std::string().swap(body_);  // an idle connection keeps no frame-sized buffer
      asio::post(socket_.get_executor(), [this, self = std::move(self), prepared] { finish(std::move(*prepared)); });
    });
  }
  Prepared prepare() {
    auto close_for = [](std::string why, bool auth = false) { return Prepared{Prepared::kClose, std::move(why), auth, {}}; };
    auto reply_with = [this](const std::string& payload) { return Prepared{Prepared::kReply, framed(payload), false, {}}; };
    if (session_) {
      std::string plain;
      if (Status s = session_->receive.open(body_, &plain); !s.ok()) return close_for(s.message(), true);
      body_.swap(plain);
      std::string why;
      if (!proved_ && !ticket_->gate->prove(ticket_, false, &why)) {
        return Prepared{Prepared::kClose, why, false, {}, true};
      }
      proved_ = true;
    }
    DataRequest req;
    if (Status s = decode_data_request(body_, &req); !s.ok()) return close_for(s.message());
    if (req.op == "decline" || req.op == "evaluation") {
      if (session_ && req.notice.node != peer_node_) {
        return reply_with(answer(false, "a " + req.op + " must come from the node it names (sent by another node's key)", false));
      }
      if (req.op == "evaluation") req.notice.id = req.id;
      return Prepared{Prepared::kUpdate, "", false, req.notice};
    }
    const std::string& id = req.id;
    if (!valid_blob_id(id)) return reply_with(answer(false, "id must be 64 hex digits", false));
    if (req.op == "part") {
      if (req.offset == 0) {
        if (Status s = store_.admit(req.size); !s.ok()) return reply_with(answer(false, s.message(), false));
      }
      std::uint64_t have = 0;
      Status s = partial_->add(sender(), id, req.size, req.offset, req.data, &have);
      return reply_with(s.ok() ? frames::part_answer(have) : answer(false, s.message(), false));
    }
    if (req.op == "fetch") {
      std::string data;
      if (req.delta && store_.get_delta(id, &data).ok()) return reply_with(answer(true, data, true, true));
      if (req.length != 0) {
        std::shared_ptr<const std::string> blob;
        if (Status s = recent_->get(store_, id, &blob); !s.ok()) return reply_with(answer(false, s.message(), false));
        if (req.offset > blob->size()) {
          return reply_with(answer(false, "offset " + std::to_string(req.offset) + " is past the blob's " +
                                              std::to_string(blob->size()) + " bytes", false));
        }
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(req.length, blob->size() - req.offset));
        return reply_with(frames::range_answer(std::string_view(*blob).substr(req.offset, n), req.offset, blob->size()));
      }
      Status s = store_.get_bytes(id, &data);
      return reply_with(s.ok() ? answer(true, data, true) : answer(false, s.message(), false));
    }
    const std::string& data = req.data;
    if (req.op == "push" && req.delta) {
      if (Status s = store_.admit(data.size()); !s.ok()) return reply_with(answer(false, s.message(), false));
      Status s = store_.put_from_delta(id, data);
      return reply_with(s.ok() ? answer(true, "", false) : answer(false, s.message(), false));
    }
    if (req.op == "update" && session_ && req.notice.node != peer_node_) {
      return reply_with(answer(false, "an update must come from the node it names (sent by another node's key)", false));
    }
    if (req.parts) {
      if (Status s = partial_->take(sender(), id, &req.data); !s.ok()) return reply_with(answer(false, s.message(), false));
    }
    if (Status s = store_.admit(data.size()); !s.ok()) return reply_with(answer(false, s.message(), false));
    Status put = store_.put_as(id, data, req.op == "update");  // refuses data that does not hash to id
    if (!put.ok()) return reply_with(answer(false, put.message(), false));
    if (req.op == "push") return reply_with(answer(true, "", false));
    req.notice.id = id;
    return Prepared{Prepared::kUpdate, "", false, req.notice};
  }
  // Whose partial uploads a frame adds to: the authenticated node, or (plaintext) the address.
  std::string sender() const {
    if (session_) return "node " + std::to_string(peer_node_);
    std::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string("unknown") : "address " + ep.address().to_string();
  }
  void finish(Prepared p) {
    if (p.auth_failed) ++counters_->auth_failed;
    if (p.refused) ++counters_->connections_refused;
    if (p.kind == Prepared::kClose) return close(p.text);
    if (p.kind == Prepared::kReply) return send(std::move(p.text));
    std::string refused = *handler_ ? (*handler_)(p.notice) : "this node is not aggregating";
    send(framed(refused.empty() ? answer(true, "", false) : answer(false, refused, false)));
  }
  std::string framed(const std::string& payload) { return session_ ? session_->send.seal(payload) : frame(payload); }
  void send(std::string bytes) {
    auto out = std::make_shared<std::string>(std::move(bytes));
    counters_->bytes_out += out->size();
    ++counters_->messages_out;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(*out), [this, self, out](const std::error_code& ec, std::size_t) {
      if (ec) return close_quietly();
      read_header();
    });
  }
  void close(const std::string& why) {
    ++counters_->dropped_in;
    std::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    // At most one line a second: a flood of bad handshakes must not become a flood of log lines.
    std::lock_guard<std::mutex> lock(warnings_->mu);
    if (warnings_->once.allow()) {
      spdlog::warn("data plane: closing connection from {}:{}: {} ({} similar warnings suppressed)",
                   ec ? "?" : ep.address().to_string(), ec ? 0 : ep.port(), why, warnings_->once.held_back());
    }
    close_quietly();
  }
  void close_quietly() {
    abandoned_->store(true);
    std::error_code ec;
    ++timer_generation_;
    timer_.cancel();
    socket_.close(ec);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  ConnectionGate::Ticket ticket_;
  bool proved_ = false;  // secure mode: its first frame opened and the gate counted it as proven
  BlobStore& store_;
  asio::thread_pool& blob_threads_;
  std::size_t max_frame_;
  std::chrono::milliseconds idle_, handshake_timeout_;
  std::shared_ptr<ChannelCounters> counters_;
  std::shared_ptr<DataPlaneServer::UpdateHandler> handler_;
  std::shared_ptr<const DataPlaneKeys> keys_;
  HandshakeWorker& handshakes_;
  std::shared_ptr<DataPlaneServer::Warnings> warnings_;
  std::shared_ptr<RecentBlobs> recent_;
  std::shared_ptr<PartialUploads> partial_;
  std::shared_ptr<std::atomic<bool>> abandoned_ = std::make_shared<std::atomic<bool>>(false);
  char watch_byte_ = 0;
  std::uint64_t timer_generation_ = 0;
  std::string handshake_;
  std::optional<crypto::SecureSession> session_;
  std::uint64_t peer_node_ = 0;
  unsigned char header_[4] = {};
  std::array<char, 64 * 1024> chunk_{};
  std::string body_;
};

}  // namespace

DataPlaneServer::DataPlaneServer(asio::io_context& io, BlobStore& store, std::size_t max_frame,
                                 ConnectionLimits limits)
    : acceptor_(io),
      store_(store),
      max_frame_(max_frame),
      recent_(std::make_shared<RecentBlobs>()),
      partial_(std::make_shared<PartialUploads>()),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "data plane", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // the handshake answer, then the frame's
        std::make_shared<DataSession>(std::move(socket), std::move(t), store_, blob_threads_, max_frame_, gate_->limits(),
                                      counters_, handler_, keys_, handshakes_, warnings_, recent_, partial_)
            ->start();
      }, [this] { return keys_ != nullptr; }),
      sweep_timer_(io) {}

DataPlaneServer::~DataPlaneServer() {
  // Blob work still queued is dropped; work under way finishes before the store may go.
  blob_threads_.stop();
  blob_threads_.join();
}

Status DataPlaneServer::listen(const PeerAddress& address) {
  if (Status s = open_listener(acceptor_, address, "data plane"); !s.ok()) return s;
  accept_loop_.start();
  arm_sweep();
  return {};
}

void DataPlaneServer::arm_sweep() {
  sweep_timer_.expires_after(std::chrono::seconds(30));
  sweep_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;  // closed (or going): `this` may be gone
    partial_->sweep();
    arm_sweep();
  });
}

std::uint16_t DataPlaneServer::port() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void DataPlaneServer::close() {
  std::error_code ec;
  sweep_timer_.cancel();
  acceptor_.close(ec);
  accept_loop_.stop();
}

}  // namespace fednode::net
