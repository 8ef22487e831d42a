// The data plane's blocking client: one call is one connection (handshake in secure mode), one
// request frame and one answer, on an io_context of its own on the caller's (worker) thread.
#include "fednode/net/data_plane.h"

#include <array>
#include <optional>

#include "data_plane_frames.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/msgpack_limits.h"

namespace fednode::net {

using asio::ip::tcp;
using frames::bin_field;
using frames::request;

namespace {

class DataCall {
 public:
  DataCall(const PeerAddress& server, std::size_t max_frame, const SecureCall* secure)
      : server_(server), max_frame_(max_frame), secure_(secure) {}

  Status run(const std::string& request, msgpack::object_handle* out, std::chrono::milliseconds timeout,
             TransferStats* stats, const std::function<bool()>& abandon) {
    tcp::resolver resolver(io_);
    std::error_code ec;
    auto endpoints = resolver.resolve(tcp::v4(), server_.host, std::to_string(server_.port), ec);
    if (ec) return failed(ec.message());
    start(endpoints, request);
    wait(timeout, abandon);
    if (stats) count(stats);
    return outcome(out);
  }

 private:
  // Secure mode: the handshake first, then the request as a sealed frame.
  void start(const tcp::resolver::results_type& endpoints, const std::string& request) {
    if (secure_) {
      initiator_.emplace(secure_->self, secure_->server, secure_->prologue);
      hello_ = initiator_->request();
    } else {
      framed_ = frames::frame(request);
    }
    asio::async_connect(socket_, endpoints, [this, &request](const std::error_code& e, const tcp::endpoint&) {
      if (e) return done(e);
      // A call writes the handshake, then the frame, and waits: with Nagle's algorithm the frame's
      // tail waited for the server's delayed ACK (up to 40 ms a transfer).
      std::error_code ignored;
      socket_.set_option(tcp::no_delay(true), ignored);
      if (!secure_) return exchange();
      handshake(request);
    });
  }
  void handshake(const std::string& request) {
    asio::async_write(socket_, asio::buffer(hello_), [this, &request](const std::error_code& e1, std::size_t) {
      if (e1) return done(e1);
      asio::async_read(socket_, asio::buffer(answer_to_hello_), [this, &request](const std::error_code& e2, std::size_t) {
        if (e2) return done(e2);
        session_.emplace();
        if (!initiator_->finish(answer_to_hello_, &*session_).ok()) {
          handshake_failed_ = true;
          return done(asio::error::access_denied);
        }
        framed_ = session_->send.seal(request);
        exchange();
      });
    });
  }
  void exchange() {
    asio::async_write(socket_, asio::buffer(framed_), [this](const std::error_code& e2, std::size_t) {
      if (e2) return done(e2);
      asio::async_read(socket_, asio::buffer(header_), [this](const std::error_code& e3, std::size_t) {
        if (e3) return done(e3);
        std::uint32_t n = frames::frame_length(header_);
        if (n > max_frame_) return done(asio::error::message_size);
        read_body(n);
      });
    });
  }
  // The answer's body grows as its bytes arrive, as on the server: a header alone claims nothing.
  void read_body(std::size_t remaining) {
    if (remaining == 0) return done({});
    asio::async_read(socket_, asio::buffer(chunk_.data(), std::min(remaining, chunk_.size())),
                     [this, remaining](const std::error_code& e4, std::size_t got) {
                       if (e4) return done(e4);
                       body_.append(chunk_.data(), got);
                       read_body(remaining - got);
                     });
  }
  void done(const std::error_code& result) { result_ = result; }

  // In slices, so that a caller whose call became useless (a superseded round attempt) is not held
  // for the whole timeout by a peer that stopped answering.
  void wait(std::chrono::milliseconds timeout, const std::function<bool()>& abandon) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (auto now = std::chrono::steady_clock::now(); result_ == asio::error::would_block && now < deadline;
         now = std::chrono::steady_clock::now()) {
      io_.run_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
      if (result_ == asio::error::would_block && abandon && abandon()) {
        result_ = asio::error::operation_aborted;
        break;
      }
    }
  }
  void count(TransferStats* stats) const {
    stats->bytes_out += framed_.size() + hello_.size();
    if (session_) stats->bytes_in += answer_to_hello_.size();
    ++stats->messages_out;
    if (!result_) {
      stats->bytes_in += 4 + body_.size();
      ++stats->messages_in;
    }
  }
  Status outcome(msgpack::object_handle* out) {
    if (result_ == asio::error::would_block) return failed("timed out");
    if (result_ == asio::error::operation_aborted) return failed("abandoned");
    if (handshake_failed_) return failed("the server failed the handshake (not the key expected)");
    if (result_) {
      return failed(result_.message() + (secure_ && !session_ ? " (during the handshake: is this node a member?)" : ""));
    }
    if (session_) {
      std::string plain;
      if (Status s = session_->receive.open(body_, &plain); !s.ok()) return failed(s.message());
      body_.swap(plain);
    }
    try {
      *out = bounded_unpack_one(body_.data(), body_.size());
    } catch (const std::exception& e) {
      return failed(std::string("bad answer: ") + e.what());
    }
    const auto* ok = map_field(out->get(), "ok");
    if (!is_true(ok)) return failed(as_string(map_field(out->get(), "reason")));
    return {};
  }
  Status failed(const std::string& why) const { return Status::error("data plane " + server_.to_string() + ": " + why); }

  const PeerAddress& server_;
  std::size_t max_frame_;
  const SecureCall* secure_;
  asio::io_context io_;
  tcp::socket socket_{io_};
  std::error_code result_ = asio::error::would_block;
  std::optional<crypto::HandshakeInitiator> initiator_;
  std::optional<crypto::SecureSession> session_;
  std::string hello_, answer_to_hello_ = std::string(crypto::kHandshakeResponseBytes, '\0');
  std::string framed_;
  bool handshake_failed_ = false;
  unsigned char header_[4] = {};
  std::array<char, 64 * 1024> chunk_{};
  std::string body_;
};

Status call(const PeerAddress& server, const std::string& request, msgpack::object_handle* out,
            std::chrono::milliseconds timeout, std::size_t max_frame, TransferStats* stats,
            const std::function<bool()>& abandon = {}, const SecureCall* secure = nullptr) {
  return DataCall(server, max_frame, secure).run(request, out, timeout, stats, abandon);
}

}  // namespace

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
