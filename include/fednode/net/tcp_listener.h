#pragma once
// What the client channel and the data plane share as TCP servers: opening the listener, and an
// accept loop that bounds how many connections are open (in all and per remote address) and
// survives running out of descriptors.
#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "fednode/net/channel_counters.h"
#include "fednode/util/once_per.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

// Resolves `address` (IPv4), then opens, binds (with SO_REUSEADDR) and listens on `acceptor`.
// `channel` names the listener in errors ("TCP", "data plane").
Status open_listener(asio::ip::tcp::acceptor& acceptor, const PeerAddress& address, const std::string& channel);

struct ConnectionLimits {
  std::size_t max_total = 1024;
  std::size_t max_per_address = 256;
  // A connection with no request under way that receives nothing for this long is closed.
  std::chrono::milliseconds idle{60000};
};

// Counts a listener's open connections. A session holds its ticket for as long as it lives; the
// ticket may be released on any thread.
class ConnectionGate : public std::enable_shared_from_this<ConnectionGate> {
 public:
  using Ticket = std::shared_ptr<void>;
  explicit ConnectionGate(ConnectionLimits limits) : limits_(limits) {}
  // Null (with the reason) when the connection would pass a limit.
  Ticket admit(const asio::ip::address& remote, std::string* why);
  std::size_t open() const;
  const ConnectionLimits& limits() const { return limits_; }

 private:
  void release(const asio::ip::address& remote);
  ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::size_t total_ = 0;
  std::map<asio::ip::address, std::size_t> per_address_;
};

// Accepts connections until the acceptor closes and hands each admitted one to `on_connection`.
// A connection over the gate's limits is closed at once and counted (dropped_in). An accept
// error such as EMFILE (no descriptors left) is logged and the next accept waits 100 ms: trying
// again at once would spin the control loop while the condition lasts.
class AcceptLoop {
 public:
  using OnConnection = std::function<void(asio::ip::tcp::socket, ConnectionGate::Ticket)>;
  AcceptLoop(asio::ip::tcp::acceptor& acceptor, std::shared_ptr<ConnectionGate> gate,
             std::shared_ptr<ChannelCounters> counters, std::string channel, OnConnection on_connection);
  void start();
  void stop();
  std::uint64_t accept_errors() const { return accept_errors_; }

 private:
  void accept();
  void retry_later(const std::error_code& ec);
  void warn_now_and_then(const std::string& text);
  asio::ip::tcp::acceptor& acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<ConnectionGate> gate_;
  std::shared_ptr<ChannelCounters> counters_;
  std::string channel_;
  OnConnection on_connection_;
  std::uint64_t accept_errors_ = 0;
  OncePer warnings_;
};

}  // namespace fednode::net
