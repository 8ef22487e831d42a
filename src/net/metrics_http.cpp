#include "fednode/net/metrics_http.h"

#include <spdlog/spdlog.h>

namespace fednode::net {
namespace {

using asio::ip::tcp;

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 408: return "Request Timeout";
  }
  return "Error";
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, ConnectionGate::Ticket ticket, MetricsHttpServer::Render render,
              std::shared_ptr<ChannelCounters> counters, std::chrono::milliseconds idle)
      : socket_(std::move(socket)), ticket_(std::move(ticket)), render_(std::move(render)),
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
      return answer({431, false}, "request head over 8 KiB\n");
    }
    if (ec) {
      timer_.cancel();
      return;
    }
    counters_->bytes_in += n;
    ++counters_->messages_in;
    std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
    HttpAnswer a = judge_http_request(head);
    if (a.status != 200) ++counters_->dropped_in;
    answer(a, a.status == 200 ? render_() : std::string(reason(a.status)) + "\n");
  }

  void answer(HttpAnswer a, std::string body) {
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + reason(a.status) + "\r\n";
    head += a.status == 200 ? "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                            : "Content-Type: text/plain; charset=utf-8\r\n";
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
  MetricsHttpServer::Render render_;
  std::shared_ptr<ChannelCounters> counters_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  std::chrono::milliseconds idle_;
  std::string out_;
};

}  // namespace

HttpAnswer judge_http_request(std::string_view head) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return {400, false};
  }
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return {400, false};
  if (method.empty() || target.empty() || target[0] != '/') return {400, false};
  for (char c : method) {
    if (c < 'A' || c > 'Z') return {400, false};
  }
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return {405, false};
  if (path != "/metrics") return {404, method == "HEAD"};
  return {200, method == "HEAD"};
}

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, Render render, ConnectionLimits limits)
    : acceptor_(io),
      render_(std::move(render)),
      gate_(std::make_shared<ConnectionGate>(limits)),
      accept_loop_(acceptor_, gate_, counters_, "metrics", [this](tcp::socket socket, ConnectionGate::Ticket t) {
        std::make_shared<HttpSession>(std::move(socket), std::move(t), render_, counters_, gate_->limits().idle)->start();
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
