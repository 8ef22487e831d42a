#include "fednode/net/metrics_http.h"

#include <spdlog/spdlog.h>
#include <strings.h>

namespace fednode::net {

struct HttpSite {
  std::vector<HttpRoute> routes;
  std::vector<HttpPath> paths;
  std::string own_host;
};

namespace {

using asio::ip::tcp;

std::shared_ptr<const HttpSite> make_site(std::vector<HttpRoute> routes, std::string own_host) {
  auto site = std::make_shared<HttpSite>();
  for (const auto& r : routes) site->paths.push_back({r.path, r.check_host});
  site->routes = std::move(routes);
  site->own_host = std::move(own_host);
  return site;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 408: return "Request Timeout";
  }
  return "Error";
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Site = HttpSite;
  HttpSession(tcp::socket socket, ConnectionGate::Ticket ticket, std::shared_ptr<const Site> site,
              std::shared_ptr<ChannelCounters> counters, std::chrono::milliseconds idle)
      : socket_(std::move(socket)), ticket_(std::move(ticket)), site_(std::move(site)),
        counters_(std::move(counters)), timer_(socket_.get_executor()), buffer_(kMaxHttpHead), idle_(idle) {}

  void start() {
    timer_.expires_after(idle_);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (ec) return;
      ++self->counters_->idle_closed;
      std::error_code ignored;
      self->socket_.close(ignored);
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n",
                           [self = shared_from_this()](const std::error_code& ec, std::size_t n) { self->on_head(ec, n); });
  }

 private:
  void on_head(const std::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {
      ++counters_->dropped_in;
      return answer({431, false, 0, {}}, "request head over 8 KiB\n");
    }
    if (ec) {
      timer_.cancel();
      return;
    }
    counters_->bytes_in += n;
    ++counters_->messages_in;
    std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
    HttpAnswer a = judge_http_request(head, site_->paths, site_->own_host);
    if (a.status != 200) ++counters_->dropped_in;
    answer(a, a.status == 200 ? site_->routes[a.route].render(a.query) : std::string(reason(a.status)) + "\n");
  }

  void answer(HttpAnswer a, std::string body) {
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + reason(a.status) + "\r\n";
    if (a.status == 200) {
      const HttpRoute& route = site_->routes[a.route];
      head += "Content-Type: " + route.content_type + "\r\n" + route.extra_headers;
    } else {
      head += "Content-Type: text/plain; charset=utf-8\r\n";
    }
    head += "X-Content-Type-Options: nosniff\r\n";
    if (a.status == 405) head += "Allow: GET, HEAD\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    out_ = a.head_only ? head : head + body;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const std::error_code& ec, std::size_t n) {
      self->timer_.cancel();
      if (!ec) {
        self->counters_->bytes_out += n;
        ++self->counters_->messages_out;
      }
      std::error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
    });
  }

  tcp::socket socket_;
  ConnectionGate::Ticket ticket_;
  std::shared_ptr<const Site> site_;
  std::shared_ptr<ChannelCounters> counters_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  std::chrono::milliseconds idle_;
  std::string out_;
};

}  // namespace

namespace {

// The Host header's value without its port ("" when absent).
std::string_view host_of(std::string_view head) {
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    std::size_t end = head.find("\r\n", at + 2);
    std::string_view line = head.substr(at + 2, end == std::string_view::npos ? std::string_view::npos : end - at - 2);
    if (line.size() >= 5 && ::strncasecmp(line.data(), "host:", 5) == 0) {
      std::string_view v = line.substr(5);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (!v.empty() && v.front() == '[') return v.substr(0, v.find(']') + 1);  // [IPv6]:port
      return v.substr(0, v.rfind(':') == std::string_view::npos ? v.size() : v.rfind(':'));
    }
    at = end;
  }
  return {};
}

bool host_allowed(std::string_view host, std::string_view own) {
  auto same = [](std::string_view a, std::string_view b) { return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0; };
  if (host.empty() || same(host, "localhost") || (!own.empty() && same(host, own))) return true;
  std::string h(host.front() == '[' && host.size() > 2 ? host.substr(1, host.size() - 2) : host);
  std::error_code ec;
  asio::ip::make_address(h, ec);
  return !ec;
}

}  // namespace

HttpAnswer judge_http_request(std::string_view head, const std::vector<HttpPath>& paths, std::string_view own_host) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return {400, false, 0, {}};
  }
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return {400, false, 0, {}};
  if (method.empty() || target.empty() || target[0] != '/') return {400, false, 0, {}};
  for (char c : method) {
    if (c < 'A' || c > 'Z') return {400, false, 0, {}};
  }
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return {405, false, 0, {}};
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (path != paths[i].path) continue;
    if (paths[i].check_host && !host_allowed(host_of(head), own_host)) return {403, method == "HEAD", 0, {}};
    auto q = target.find('?');
    return {200, method == "HEAD", i, q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1))};
  }
  return {404, method == "HEAD", 0, {}};
}

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, Render render, ConnectionLimits limits)
    : acceptor_(io),
      // Prometheus alone: scrapers name the host as they like.
      site_(make_site({HttpRoute{"/metrics", "text/plain; version=0.0.4; charset=utf-8",
                                 [render = std::move(render)](std::string_view) { return render(); }, "", false}},
                      "")),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "metrics", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::make_shared<HttpSession>(std::move(socket), std::move(t), site_, counters_, gate_->limits().idle)->start();
      }) {}

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, std::vector<HttpRoute> routes, std::string own_host,
                                     ConnectionLimits limits)
    : acceptor_(io),
      site_(make_site(std::move(routes), std::move(own_host))),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "metrics", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::make_shared<HttpSession>(std::move(socket), std::move(t), site_, counters_, gate_->limits().idle)->start();
      }) {}

Status MetricsHttpServer::listen(const PeerAddress& address) {
  if (Status s = open_listener(acceptor_, address, "metrics"); !s.ok()) return s;
  accept_loop_.start();
  return {};
}

std::uint16_t MetricsHttpServer::port() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void MetricsHttpServer::close() {
  std::error_code ec;
  acceptor_.close(ec);
  accept_loop_.stop();
}

}  // namespace fednode::net
