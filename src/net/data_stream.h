#pragma once
// DataStream (private to src/net): one blocking connection to a data-plane server, sealed when
// the call is secure, on its own io_context: requests may be written ahead of their answers,
// which come back in order. Every wait is bounded by the deadline. The ranged fetch keeps one per
// holder; the resumable upload one per attempt.
#include <array>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <msgpack.hpp>

#include "data_plane_frames.h"
#include "fednode/net/data_plane.h"
#include "fednode/util/msgpack_limits.h"

namespace fednode::net {

class DataStream {
  using Clock = std::chrono::steady_clock;
  using tcp = asio::ip::tcp;

 public:
  // `done`, when set, ends any wait at once (the blob came together from the other holders);
  // so does `abandon` returning true (polled every 100 ms).
  DataStream(const FetchSource& source, Clock::time_point deadline, const std::atomic<bool>* done = nullptr,
             std::function<bool()> abandon = {})
      : source_(source), deadline_(deadline), done_(done), abandon_(std::move(abandon)) {}

  Status open() {
    tcp::resolver resolver(io_);
    std::error_code ec;
    auto endpoints = resolver.resolve(tcp::v4(), source_.address.host, std::to_string(source_.address.port), ec);
    if (ec) return failed(ec.message());
    std::error_code result = asio::error::would_block;
    asio::async_connect(socket_, endpoints, [&](const std::error_code& e, const tcp::endpoint&) { result = e; });
    if (Status s = run(result, "connecting"); !s.ok()) return s;
    socket_.set_option(tcp::no_delay(true), ec);
    if (!source_.secure) return {};
    crypto::HandshakeInitiator initiator(source_.secure->self, source_.secure->server, source_.secure->prologue);
    std::string hello = initiator.request();
    if (Status s = write(hello); !s.ok()) return s;
    std::string answer(crypto::kHandshakeResponseBytes, '\0');
    result = asio::error::would_block;
    asio::async_read(socket_, asio::buffer(answer), [&](const std::error_code& e, std::size_t) { result = e; });
    if (Status s = run(result, "during the handshake (is this node a member?)"); !s.ok()) return s;
    stats.bytes_in += answer.size();
    session_.emplace();
    if (!initiator.finish(answer, &*session_).ok()) return failed("the server failed the handshake (not the key expected)");
    return {};
  }

  void extend(Clock::time_point deadline, const std::atomic<bool>* done) {
    deadline_ = deadline;
    done_ = done;
  }

  Status send(const std::string& request) {
    ++stats.messages_out;
    return write(session_ ? session_->send.seal(request) : frames::frame(request));
  }

  // The next answer, of at most `max_bytes`: its map, ok or not (the caller reads ok and reason).
  Status receive(msgpack::object_handle* out, std::size_t max_bytes = kDefaultMaxFrame) {
    unsigned char header[4];
    std::error_code result = asio::error::would_block;
    asio::async_read(socket_, asio::buffer(header), [&](const std::error_code& e, std::size_t) { result = e; });
    if (Status s = run(result, "reading an answer"); !s.ok()) return s;
    std::uint32_t n = frames::frame_length(header);
    // A whole blob (a holder that predates ranges) or a delta may be as large as any frame; the
    // body grows as its bytes arrive, so a header alone claims nothing.
    if (n > max_bytes) return failed("an answer of " + std::to_string(n) + " bytes, more than the " + std::to_string(max_bytes) + " expected");
    std::string body;
    std::array<char, 64 * 1024> chunk;
    Status read;
    stats.bytes_in += 4;
    while (body.size() < n && read.ok()) {
      std::size_t got = 0;  // a cut answer's bytes count too: they crossed the network for nothing
      result = asio::error::would_block;
      asio::async_read(socket_, asio::buffer(chunk.data(), std::min<std::size_t>(chunk.size(), n - body.size())),
                       [&](const std::error_code& e, std::size_t m) { result = e, got = m; });
      read = run(result, "reading an answer");
      stats.bytes_in += got;
      body.append(chunk.data(), got);
    }
    if (!read.ok()) return read;
    ++stats.messages_in;
    if (session_) {
      std::string plain;
      if (Status s = session_->receive.open(body, &plain); !s.ok()) return failed(s.message());
      body.swap(plain);
    }
    try {
      *out = bounded_unpack_one(body.data(), body.size());
    } catch (const std::exception& e) {
      return failed(std::string("bad answer: ") + e.what());
    }
    return {};
  }

  Status failed(const std::string& why) const {
    return Status::error("data plane " + source_.address.to_string() + ": " + why);
  }

  TransferStats stats;

 private:
  Status write(const std::string& bytes) {
    std::error_code result = asio::error::would_block;
    asio::async_write(socket_, asio::buffer(bytes), [&](const std::error_code& e, std::size_t) { result = e; });
    Status s = run(result, "writing a request");
    if (s.ok()) stats.bytes_out += bytes.size();
    return s;
  }
  Status run(std::error_code& result, const char* what) {
    while (result == asio::error::would_block && Clock::now() < deadline_ && !stopped()) {
      io_.restart();
      io_.run_for(std::min<Clock::duration>(deadline_ - Clock::now(), std::chrono::milliseconds(100)));
    }
    if (result == asio::error::would_block) {
      std::error_code ignored;
      socket_.close(ignored);
      io_.restart();
      io_.run();  // the aborted handler writes `result`: it runs before `result` goes
      return failed(std::string(stopped() ? "no longer needed " : "timed out ") + what);
    }
    if (result) return failed(result.message() + " " + what);
    return {};
  }

  bool stopped() const { return (done_ && *done_) || (abandon_ && abandon_()); }

  const FetchSource& source_;
  Clock::time_point deadline_;
  const std::atomic<bool>* done_;
  std::function<bool()> abandon_;
  asio::io_context io_;
  tcp::socket socket_{io_};
  std::optional<crypto::SecureSession> session_;
};

}  // namespace fednode::net
