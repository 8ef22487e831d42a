#include "fednode/net/data_plane.h"

#include "fednode/util/msgpack_limits.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>

#include <msgpack.hpp>
#include <spdlog/spdlog.h>

#include "fednode/net/tcp_listener.h"

#include "fednode/net/client_connection.h"
#include "fednode/util/big_endian.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/msgpack_pack.h"

namespace fednode::net {

using asio::ip::tcp;

namespace {

std::string frame(const std::string& payload) {
  std::string out;
  out.reserve(4 + payload.size());
  put_be(out, payload.size(), 4);
  return out + payload;
}

std::uint32_t frame_length(const unsigned char* h) { return static_cast<std::uint32_t>(get_be(h, 4)); }

// `delta`: the data is the change from a base instead of the blob (a fetch that welcomed one).
std::string answer(bool ok, const std::string& reason_or_data, bool with_data, bool delta = false) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(delta ? 3 : 2);
  p.pack("ok");
  p.pack(ok);
  if (ok && with_data) {
    p.pack("data");
    pack_bin(p, reason_or_data);
  } else {
    p.pack(ok ? "data" : "reason");
    p.pack(reason_or_data);
  }
  if (delta) {
    p.pack("delta");
    p.pack(true);
  }
  return std::string(b.data(), b.size());
}

std::string bin_field(const msgpack::object& map, const char* key) {
  const msgpack::object* o = map_field(map, key);
  if (!o || o->type != msgpack::type::BIN) return "";
  return std::string(o->via.bin.ptr, o->via.bin.size);
}

bool parse_number(const msgpack::object& req, const char* k, double* out) {
  const msgpack::object* o = map_field(req, k);
  if (!o) return false;
  if (o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64) *out = o->via.f64;
  else if (o->type == msgpack::type::POSITIVE_INTEGER) *out = static_cast<double>(o->via.u64);
  else return false;
  return true;
}

bool parse_notice(const msgpack::object& req, UpdateNotice* n) {
  auto u64 = [&](const char* k, std::uint64_t* out) {
    const msgpack::object* o = map_field(req, k);
    if (!o || o->type != msgpack::type::POSITIVE_INTEGER) return false;
    *out = o->via.u64;
    return true;
  };
  auto f64 = [&](const char* k, double* out) { return parse_number(req, k, out); };
  return u64("round", &n->round) && u64("term", &n->term) && u64("attempt", &n->attempt) && u64("node", &n->node) &&
         u64("samples", &n->samples) && f64("train_loss", &n->train_loss) && f64("train_seconds", &n->train_seconds);
}

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
              HandshakeWorker& handshakes, std::shared_ptr<DataPlaneServer::Warnings> warnings)
      : socket_(std::move(s)), timer_(socket_.get_executor()), ticket_(std::move(ticket)), store_(store),
        blob_threads_(blob_threads), max_frame_(max_frame), idle_(limits.idle), handshake_timeout_(std::min(limits.idle, limits.handshake_timeout)),
        counters_(std::move(counters)), handler_(std::move(handler)), keys_(std::move(keys)), handshakes_(handshakes),
        warnings_(std::move(warnings)) {}
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
    if (req.op == "fetch") {
      std::string data;
      if (req.delta && store_.get_delta(id, &data).ok()) return reply_with(answer(true, data, true, true));
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
    if (Status s = store_.admit(data.size()); !s.ok()) return reply_with(answer(false, s.message(), false));
    Status put = store_.put_as(id, data, req.op == "update");  // refuses data that does not hash to id
    if (!put.ok()) return reply_with(answer(false, put.message(), false));
    if (req.op == "push") return reply_with(answer(true, "", false));
    req.notice.id = id;
    return Prepared{Prepared::kUpdate, "", false, req.notice};
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

Status call(const PeerAddress& server, const std::string& request, msgpack::object_handle* out,
            std::chrono::milliseconds timeout, std::size_t max_frame, TransferStats* stats,
            const std::function<bool()>& abandon = {}, const SecureCall* secure = nullptr) {
  asio::io_context io;
  tcp::socket socket(io);
  tcp::resolver resolver(io);
  std::error_code ec;
  auto results = resolver.resolve(tcp::v4(), server.host, std::to_string(server.port), ec);
  if (ec) return Status::error("data plane " + server.to_string() + ": " + ec.message());
  std::string response;
  std::error_code result = asio::error::would_block;
  unsigned char header[4];
  std::string body;
  // Secure mode: the handshake first, then the request as a sealed frame.
  std::optional<crypto::HandshakeInitiator> initiator;
  std::optional<crypto::SecureSession> session;
  std::string hello, answer_to_hello(crypto::kHandshakeResponseBytes, '\0');
  if (secure) {
    initiator.emplace(secure->self, secure->server, secure->prologue);
    hello = initiator->request();
  }
  std::string framed = secure ? "" : frame(request);
  bool handshake_failed = false;
  // The answer's body grows as its bytes arrive, as on the server: a header alone claims nothing.
  std::array<char, 64 * 1024> chunk;
  std::function<void(std::size_t)> read_body = [&](std::size_t remaining) {
    if (remaining == 0) return void(result = std::error_code());
    asio::async_read(socket, asio::buffer(chunk.data(), std::min(remaining, chunk.size())),
                     [&, remaining](const std::error_code& e4, std::size_t got) {
                       if (e4) return void(result = e4);
                       body.append(chunk.data(), got);
                       read_body(remaining - got);
                     });
  };
  auto exchange = [&]() {
    asio::async_write(socket, asio::buffer(framed), [&](const std::error_code& e2, std::size_t) {
      if (e2) return void(result = e2);
      asio::async_read(socket, asio::buffer(header), [&](const std::error_code& e3, std::size_t) {
        if (e3) return void(result = e3);
        std::uint32_t n = frame_length(header);
        if (n > max_frame) return void(result = asio::error::message_size);
        read_body(n);
      });
    });
  };
  asio::async_connect(socket, results, [&](const std::error_code& e, const tcp::endpoint&) {
    if (e) return void(result = e);
    // A call writes the handshake, then the frame, and waits: with Nagle's algorithm the frame's
    // tail waited for the server's delayed ACK (up to 40 ms a transfer).
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (!secure) return exchange();
    asio::async_write(socket, asio::buffer(hello), [&](const std::error_code& e1, std::size_t) {
      if (e1) return void(result = e1);
      asio::async_read(socket, asio::buffer(answer_to_hello), [&](const std::error_code& e2, std::size_t) {
        if (e2) return void(result = e2);
        session.emplace();
        if (!initiator->finish(answer_to_hello, &*session).ok()) {
          handshake_failed = true;
          return void(result = asio::error::access_denied);
        }
        framed = session->send.seal(request);
        exchange();
      });
    });
  });
  // In slices, so that a caller whose call became useless (a superseded round attempt) is not held
  // for the whole timeout by a peer that stopped answering.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto now = std::chrono::steady_clock::now(); result == asio::error::would_block && now < deadline;
       now = std::chrono::steady_clock::now()) {
    io.run_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
    if (result == asio::error::would_block && abandon && abandon()) {
      result = asio::error::operation_aborted;
      break;
    }
  }
  if (stats) {
    stats->bytes_out += framed.size() + hello.size();
    if (session) stats->bytes_in += answer_to_hello.size();
    ++stats->messages_out;
    if (!result) {
      stats->bytes_in += 4 + body.size();
      ++stats->messages_in;
    }
  }
  if (result == asio::error::would_block) return Status::error("data plane " + server.to_string() + ": timed out");
  if (result == asio::error::operation_aborted) return Status::error("data plane " + server.to_string() + ": abandoned");
  if (handshake_failed) {
    return Status::error("data plane " + server.to_string() + ": the server failed the handshake (not the key expected)");
  }
  if (result) {
    return Status::error("data plane " + server.to_string() + ": " + result.message() +
                         (secure && !session ? " (during the handshake: is this node a member?)" : ""));
  }
  if (session) {
    std::string plain;
    if (Status s = session->receive.open(body, &plain); !s.ok()) return Status::error("data plane " + server.to_string() + ": " + s.message());
    body.swap(plain);
  }
  try {
    *out = bounded_unpack_one(body.data(), body.size());
  } catch (const std::exception& e) {
    return Status::error("data plane " + server.to_string() + ": bad answer: " + e.what());
  }
  const auto* ok = map_field(out->get(), "ok");
  if (!is_true(ok)) {
    return Status::error("data plane " + server.to_string() + ": " + as_string(map_field(out->get(), "reason")));
  }
  return {};
}

std::string request(const char* op, const std::string& id, const std::string* data, const UpdateNotice* notice = nullptr,
                    bool delta = false) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  bool declined = notice && !notice->declined.empty();
  bool evaluation = notice && notice->evaluation;
  p.pack_map((data ? 3 : 2) + (notice ? 7 : 0) + (delta ? 1 : 0) + (declined ? 1 : 0) + (evaluation ? 2 : 0));
  if (declined) {
    p.pack("reason");
    p.pack(notice->declined);
  }
  if (evaluation) {
    p.pack("loss");
    p.pack(notice->loss);
    p.pack("metric");
    p.pack(notice->metric);
  }
  if (delta) {
    p.pack("delta");
    p.pack(true);
  }
  if (notice) {
    p.pack("round");
    p.pack(notice->round);
    p.pack("term");
    p.pack(notice->term);
    p.pack("attempt");
    p.pack(notice->attempt);
    p.pack("node");
    p.pack(notice->node);
    p.pack("samples");
    p.pack(notice->samples);
    p.pack("train_loss");
    p.pack(notice->train_loss);
    p.pack("train_seconds");
    p.pack(notice->train_seconds);
  }
  p.pack("op");
  p.pack(op);
  p.pack("id");
  p.pack(id);
  if (data) {
    p.pack("data");
    pack_bin(p, *data);
  }
  return std::string(b.data(), b.size());
}

}  // namespace

Status decode_data_request(std::string_view body, DataRequest* out) {
  msgpack::object_handle h;
  try {
    std::size_t off = 0;
    h = bounded_unpack(body.data(), body.size(), off);
    if (off != body.size()) return Status::error("trailing bytes in frame");
  } catch (const std::exception& e) {
    return Status::error(std::string("frame is not msgpack: ") + e.what());
  }
  const auto& req = h.get();
  out->op = as_string(map_field(req, "op"));
  out->id = as_string(map_field(req, "id"));
  if (req.type != msgpack::type::MAP ||
      (out->op != "fetch" && out->op != "push" && out->op != "update" && out->op != "decline" && out->op != "evaluation")) {
    return Status::error("frame has no op fetch|push|update|decline|evaluation");
  }
  if (out->op == "evaluation") {
    out->notice.evaluation = true;
    if (!parse_notice(req, &out->notice) || !parse_number(req, "loss", &out->notice.loss) ||
        !parse_number(req, "metric", &out->notice.metric)) {
      return Status::error("evaluation frame needs unsigned round and node, samples, and numeric loss and metric");
    }
    if (!valid_blob_id(out->id)) return Status::error("evaluation frame's id must be the model's 64 hex digits");
    return {};
  }
  if (out->op == "decline") {
    out->notice.declined = as_string(map_field(req, "reason")).substr(0, kMaxDeclineReason);
    if (out->notice.declined.empty()) return Status::error("decline frame needs a reason");
    if (!parse_notice(req, &out->notice)) return Status::error("decline frame needs unsigned round, term, attempt and node");
    return {};
  }
  out->delta = is_true(map_field(req, "delta"));
  if (out->op == "update" && out->delta) return Status::error("an update frame cannot be a delta");
  if (out->op == "fetch") return {};
  out->data = bin_field(req, "data");
  if (out->op == "update" && !parse_notice(req, &out->notice)) {
    return Status::error("update frame needs unsigned round, term, attempt, node, samples and numeric train_loss");
  }
  return {};
}

DataPlaneServer::DataPlaneServer(asio::io_context& io, BlobStore& store, std::size_t max_frame,
                                 ConnectionLimits limits)
    : acceptor_(io),
      store_(store),
      max_frame_(max_frame),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "data plane", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // the handshake answer, then the frame's
        std::make_shared<DataSession>(std::move(socket), std::move(t), store_, blob_threads_, max_frame_, gate_->limits(),
                                      counters_, handler_, keys_, handshakes_, warnings_)
            ->start();
      }, [this] { return keys_ != nullptr; }) {}

DataPlaneServer::~DataPlaneServer() {
  // Blob work still queued is dropped; work under way finishes before the store may go.
  blob_threads_.stop();
  blob_threads_.join();
}

Status DataPlaneServer::listen(const PeerAddress& address) {
  if (Status s = open_listener(acceptor_, address, "data plane"); !s.ok()) return s;
  accept_loop_.start();
  return {};
}

std::uint16_t DataPlaneServer::port() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void DataPlaneServer::close() {
  std::error_code ec;
  acceptor_.close(ec);
  accept_loop_.stop();
}

Status fetch_blob(const PeerAddress& server, const std::string& id, std::string* data, std::chrono::milliseconds timeout,
                  std::size_t max_frame, TransferStats* stats, const SecureCall* secure) {
  msgpack::object_handle h;
  if (Status s = call(server, request("fetch", id, nullptr), &h, timeout, max_frame, stats, {}, secure); !s.ok()) return s;
  *data = bin_field(h.get(), "data");
  if (sha256_hex(*data) != id) return Status::error("data plane " + server.to_string() + ": blob does not hash to " + id);
  return {};
}

Status fetch_blob_or_delta(const PeerAddress& server, const std::string& id, std::string* data, bool* is_delta,
                          std::chrono::milliseconds timeout, std::size_t max_frame, TransferStats* stats,
                          const SecureCall* secure) {
  msgpack::object_handle h;
  if (Status s = call(server, request("fetch", id, nullptr, nullptr, true), &h, timeout, max_frame, stats, {}, secure);
      !s.ok()) {
    return s;
  }
  *data = bin_field(h.get(), "data");
  *is_delta = is_true(map_field(h.get(), "delta"));
  if (!*is_delta && sha256_hex(*data) != id) return Status::error("data plane " + server.to_string() + ": blob does not hash to " + id);
  return {};
}

Status push_delta(const PeerAddress& server, const std::string& id, const std::string& delta,
                  std::chrono::milliseconds timeout, TransferStats* stats, const SecureCall* secure) {
  msgpack::object_handle h;
  return call(server, request("push", id, &delta, nullptr, true), &h, timeout, kDefaultMaxFrame, stats, {}, secure);
}

Status push_blob(const PeerAddress& server, const std::string& id, const std::string& data,
                 std::chrono::milliseconds timeout, TransferStats* stats, const SecureCall* secure) {
  msgpack::object_handle h;
  return call(server, request("push", id, &data), &h, timeout, kDefaultMaxFrame, stats, {}, secure);
}

Status report_evaluation(const PeerAddress& server, const UpdateNotice& notice, std::chrono::milliseconds timeout,
                         TransferStats* stats, const SecureCall* secure) {
  msgpack::object_handle h;
  return call(server, request("evaluation", notice.id, nullptr, &notice), &h, timeout, kDefaultMaxFrame, stats, {}, secure);
}

Status decline_update(const PeerAddress& server, const UpdateNotice& notice, std::chrono::milliseconds timeout,
                      TransferStats* stats, const SecureCall* secure) {
  msgpack::object_handle h;
  return call(server, request("decline", "", nullptr, &notice), &h, timeout, kDefaultMaxFrame, stats, {}, secure);
}

Status upload_update(const PeerAddress& server, const UpdateNotice& notice, const std::string& data,
                     std::chrono::milliseconds timeout, TransferStats* stats, const std::function<bool()>& abandon,
                     const SecureCall* secure) {
  msgpack::object_handle h;
  return call(server, request("update", notice.id, &data, &notice), &h, timeout, kDefaultMaxFrame, stats, abandon,
              secure);
}

}  // namespace fednode::net
