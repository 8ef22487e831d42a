#pragma once
// The node's read-only HTTP/1.1 server: GET /metrics (Prometheus), and the routes the daemon
// adds (the live page and its JSON). Every route is answered with its `render(query)` on the
// io_context thread (the control loop, which owns every counter it reads). One request per
// connection, then the connection closes; a request head is bounded (8 KiB) and must arrive
// within the idle timeout; connections are capped in all and per address like the other TCP
// servers. Nothing a request says changes the node.
#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/net/channel_counters.h"
#include "fednode/net/tcp_listener.h"

namespace fednode::net {

inline constexpr std::size_t kMaxHttpHead = 8192;

struct HttpAnswer {
  int status = 200;  // 200, 400, 403, 404, 405
  bool head_only = false;
  std::size_t route = 0;  // 200: which of the paths
  std::string query;      // 200: what followed '?' in the target
};

struct HttpPath {
  std::string path;
  bool check_host = false;
};

// Judges a request head (the request line and the headers, up to the blank line): GET or HEAD
// of one of `paths` (the query string apart) is 200; another path 404; another method 405;
// anything that is not an HTTP/1.x request line 400. For a path with `check_host`, a Host header
// that is neither an IP address, nor localhost, nor `own_host` is 403: a page on another site
// that rebinds its name to this address (DNS rebinding) cannot read it through a browser.
HttpAnswer judge_http_request(std::string_view head, const std::vector<HttpPath>& paths = {{"/metrics", false}},
                              std::string_view own_host = {});

struct HttpRoute {
  std::string path;
  std::string content_type;
  std::function<std::string(std::string_view query)> render;  // query: what follows '?' ("" if none)
  std::string extra_headers;  // whole header lines, each ending in \r\n
  bool check_host = false;    // the DNS-rebinding rule (judge_http_request); scrapers name hosts freely
};

struct HttpSite;  // the routes and the Host rule

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;
  static ConnectionLimits default_limits() { return {64, 16, std::chrono::milliseconds(10000)}; }
  // /metrics only.
  MetricsHttpServer(asio::io_context& io, Render render, ConnectionLimits limits = default_limits());
  // These routes; Host headers of the routes that ask for it are checked against `own_host`.
  MetricsHttpServer(asio::io_context& io, std::vector<HttpRoute> routes, std::string own_host,
                    ConnectionLimits limits = default_limits());
  Status listen(const PeerAddress& address);
  std::uint16_t port() const;
  void close();
  const ChannelCounters& counters() const { return *counters_; }

 private:
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<const HttpSite> site_;
  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
  std::shared_ptr<ConnectionGate> gate_;
  AcceptLoop accept_loop_;
};

}  // namespace fednode::net
