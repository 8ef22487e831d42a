#include "fednode/net/tcp_listener.h"

#include <spdlog/spdlog.h>

namespace fednode::net {

using asio::ip::tcp;

Status open_listener(tcp::acceptor& acceptor, const PeerAddress& address, const std::string& channel) {
  std::error_code ec;
  tcp::resolver resolver(acceptor.get_executor());
  auto results = resolver.resolve(tcp::v4(), address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) return Status::error("cannot resolve " + address.to_string() + ": " + ec.message());
  tcp::endpoint ep = *results.begin();
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::error("cannot listen on " + channel + " " + address.to_string() + ": " + ec.message());
  return {};
}

ConnectionGate::Ticket ConnectionGate::admit(const asio::ip::address& remote, std::string* why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= limits_.max_total) {
    *why = std::to_string(total_) + " connections open, the most allowed";
    return nullptr;
  }
  std::size_t& mine = per_address_[remote];
  if (mine >= limits_.max_per_address) {
    *why = std::to_string(mine) + " connections open from " + remote.to_string() + ", the most allowed per address";
    return nullptr;
  }
  ++mine;
  ++total_;
  // The connection's place: given back when the last holder lets go.
  struct Place {
    Place(std::shared_ptr<ConnectionGate> g, asio::ip::address r) : gate(std::move(g)), remote(r) {}
    Place(const Place&) = delete;
    ~Place() { gate->release(remote); }
    std::shared_ptr<ConnectionGate> gate;
    asio::ip::address remote;
  };
  return std::make_shared<Place>(shared_from_this(), remote);
}

void ConnectionGate::release(const asio::ip::address& remote) {
  std::lock_guard<std::mutex> lock(mu_);
  --total_;
  auto it = per_address_.find(remote);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t ConnectionGate::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

AcceptLoop::AcceptLoop(tcp::acceptor& acceptor, std::shared_ptr<ConnectionGate> gate,
                       std::shared_ptr<ChannelCounters> counters, std::string channel, OnConnection on_connection)
    : acceptor_(acceptor),
      retry_(acceptor.get_executor()),
      gate_(std::move(gate)),
      counters_(std::move(counters)),
      channel_(std::move(channel)),
      on_connection_(std::move(on_connection)) {}

void AcceptLoop::start() { accept(); }

void AcceptLoop::stop() { retry_.cancel(); }

void AcceptLoop::accept() {
  acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) return retry_later(ec);
    std::error_code e;
    auto remote = socket.remote_endpoint(e);
    std::string why = "peer gone";
    ConnectionGate::Ticket ticket = e ? nullptr : gate_->admit(remote.address(), &why);
    if (ticket) {
      on_connection_(std::move(socket), std::move(ticket));
    } else {
      ++counters_->dropped_in;
      ++counters_->connections_refused;
      warn_now_and_then(channel_ + ": refused a connection: " + why);
      socket.close(e);
    }
    accept();
  });
}

void AcceptLoop::retry_later(const std::error_code& ec) {
  ++accept_errors_;
  warn_now_and_then(channel_ + ": accept failed (" + ec.message() + "); retrying in 100 ms");
  retry_.expires_after(std::chrono::milliseconds(100));
  retry_.async_wait([this](const std::error_code& e) {
    if (!e && acceptor_.is_open()) accept();
  });
}

// At most one warning a second: a flood must not become a flood of log lines.
void AcceptLoop::warn_now_and_then(const std::string& text) {
  if (warnings_.allow()) spdlog::warn("{} ({} similar warnings suppressed)", text, warnings_.held_back());
}

}  // namespace fednode::net
