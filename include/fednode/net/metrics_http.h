#pragma once
// The Prometheus endpoint: a read-only HTTP/1.1 server whose one resource is GET /metrics
// (HEAD too), answered with `render()` on the io_context thread (the control loop, which owns
// every counter it reads). One request per connection, then the connection closes; a request
// head is bounded (8 KiB) and must arrive within the idle timeout; connections are capped in
// all and per address like the other TCP servers. Nothing a request says changes the node.
#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fednode/net/channel_counters.h"
#include "fednode/net/tcp_listener.h"

namespace fednode::net {

inline constexpr std::size_t kMaxHttpHead = 8192;

struct HttpAnswer {
  int status = 200;  // 200, 400, 404, 405
  bool head_only = false;
};

// Judges a request head (the request line and the headers, up to the blank line): GET or HEAD
// of /metrics (a query string is ignored) is 200; another path 404; another method 405;
// anything that is not an HTTP/1.x request line 400.
HttpAnswer judge_http_request(std::string_view head);

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;
  static ConnectionLimits default_limits() { return {64, 16, std::chrono::milliseconds(10000)}; }
  MetricsHttpServer(asio::io_context& io, Render render, ConnectionLimits limits = default_limits());
  Status listen(const PeerAddress& address);
  std::uint16_t port() const;
  void close();
  const ChannelCounters& counters() const { return *counters_; }

 private:
  asio::ip::tcp::acceptor acceptor_;
  Render render_;
  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
  std::shared_ptr<ConnectionGate> gate_;
  AcceptLoop accept_loop_;
};

}  // namespace fednode::net
