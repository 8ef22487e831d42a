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

bool ConnectionGate::take_proven_place(const asio::ip::address& remote, std::string* why) {
  if (total_ >= limits_.max_total) {
    *why = std::to_string(total_) + " connections open, the most allowed";
    return false;
  }
  std::size_t& mine = per_address_[remote];
  if (mine >= limits_.max_per_address) {
    *why = std::to_string(mine) + " connections open from " + remote.to_string() + ", the most allowed per address";
    return false;
  }
  ++mine;
  ++total_;
  return true;
}

ConnectionGate::Ticket ConnectionGate::admit(const asio::ip::address& remote, std::string* why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!take_proven_place(remote, why)) return nullptr;
  return std::make_shared<Place>(shared_from_this(), remote, State::kProven);
}

ConnectionGate::Ticket ConnectionGate::admit_unproven(const asio::ip::address& remote) {
  std::function<void()> evict;
  Ticket ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Place* victim = nullptr;
    bool same_address = unproven_per_address_[remote] >= limits_.max_unproven_per_address;
    if (same_address || unproven_.size() >= limits_.max_unproven) {
      // The oldest idle one first: a client whose handshake is being checked is about to leave.
      Place* oldest_handshaking = nullptr;
      for (Place* p : unproven_) {
        if (same_address && p->remote != remote) continue;
        if (!p->handshaking) {
          victim = p;
          break;
        }
        if (!oldest_handshaking) oldest_handshaking = p;
      }
      if (!victim) victim = oldest_handshaking;
    }
    if (victim) {
      forget_unproven(*victim);
      victim->state = State::kEvicted;
      evict = std::move(victim->evict);
      ++evicted_;
    }
    ticket = std::make_shared<Place>(shared_from_this(), remote, State::kUnproven);
    unproven_.push_back(ticket.get());
    ++unproven_per_address_[remote];
  }
  if (evict) evict();
  return ticket;
}

void ConnectionGate::on_evict(const Ticket& ticket, std::function<void()> evict) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ticket->state != State::kEvicted) {
      ticket->evict = std::move(evict);
      return;
    }
  }
  evict();
}

void ConnectionGate::handshake_received(const Ticket& ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  ticket->handshaking = true;
}

bool ConnectionGate::prove(const Ticket& ticket, bool operator_key, std::string* why) {
  std::lock_guard<std::mutex> lock(mu_);
  Place& p = *ticket;
  if (p.state != State::kUnproven) {
    *why = p.state == State::kEvicted ? "closed to make room for newer connections before it proved a key"
                                      : "already proven";
    return p.state != State::kEvicted;
  }
  if (operator_key) {
    forget_unproven(p);
    p.state = State::kOperator;
    ++operators_;
    return true;
  }
  if (!take_proven_place(p.remote, why)) return false;
  forget_unproven(p);
  p.state = State::kProven;
  return true;
}

void ConnectionGate::forget_unproven(Place& p) {
  unproven_.remove(&p);
  auto it = unproven_per_address_.find(p.remote);
  if (it != unproven_per_address_.end() && --it->second == 0) unproven_per_address_.erase(it);
}

void ConnectionGate::release(Place& p) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (p.state) {
    case State::kUnproven: forget_unproven(p); break;
    case State::kOperator: --operators_; break;
    case State::kProven: {
      --total_;
      auto it = per_address_.find(p.remote);
      if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
      break;
    }
    case State::kEvicted: break;
  }
}

std::size_t ConnectionGate::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_ + operators_ + unproven_.size();
}

std::size_t ConnectionGate::unproven() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unproven_.size();
}

std::uint64_t ConnectionGate::evicted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evicted_;
}

AcceptLoop::AcceptLoop(tcp::acceptor& acceptor, std::shared_ptr<ConnectionGate> gate,
                       std::shared_ptr<ChannelCounters> counters, std::string channel, OnConnection on_connection,
                       std::function<bool()> unproven)
    : acceptor_(acceptor),
      retry_(acceptor.get_executor()),
      gate_(std::move(gate)),
      counters_(std::move(counters)),
      channel_(std::move(channel)),
      on_connection_(std::move(on_connection)),
      unproven_(std::move(unproven)) {}

void AcceptLoop::start() { accept(); }

void AcceptLoop::stop() { retry_.cancel(); }

void AcceptLoop::accept() {
  acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) return retry_later(ec);
    std::error_code e;
    auto remote = socket.remote_endpoint(e);
    std::string why = "peer gone";
    ConnectionGate::Ticket ticket;
    if (!e) ticket = unproven_ && unproven_() ? gate_->admit_unproven(remote.address()) : gate_->admit(remote.address(), &why);
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
