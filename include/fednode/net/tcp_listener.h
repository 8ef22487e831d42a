#pragma once
// What the client channel and the data plane share as TCP servers: opening the listener, and an
// accept loop that bounds how many connections are open (in all and per remote address) and
// survives running out of descriptors.
//
// In secure mode a connection is first unproven: it holds one of a few places for connections
// that have not proved a key yet, must prove one within a short time, and when the places are
// all taken (in all, or from its address) the oldest unproven connection is closed to make room.
// So a flood of idle or half-open connections costs the flooder its own connections, never an
// operator's: an operator proves its key within a round trip of connecting. Once proven, a
// connection counts against the limits in all and per address; an operator's never does.
#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
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
  // Secure mode, before a connection proves a key: places in all and per address, and how long
  // it has to prove one. A newcomer past either evicts the oldest unproven connection that has
  // not sent its whole handshake yet (only if every one has, the oldest of those).
  std::size_t max_unproven = 256;
  std::size_t max_unproven_per_address = 32;
  std::chrono::milliseconds handshake_timeout{5000};
};

// Counts a listener's open connections. A session holds its ticket for as long as it lives; the
// ticket may be released on any thread.
class ConnectionGate : public std::enable_shared_from_this<ConnectionGate> {
 public:
  struct Place;
  using Ticket = std::shared_ptr<Place>;
  explicit ConnectionGate(ConnectionLimits limits) : limits_(limits) {}
  // A proven connection (insecure mode: every one). Null (with the reason) when it would pass a limit.
  Ticket admit(const asio::ip::address& remote, std::string* why);
  // An unproven connection: never refused; the oldest unproven one (from the same address when
  // that address has all its places) is evicted instead.
  Ticket admit_unproven(const asio::ip::address& remote);
  // What closes the ticket's connection when it is evicted (called at once if it already was);
  // called on whatever thread admits the newcomer.
  void on_evict(const Ticket& ticket, std::function<void()> evict);
  // The same for a session: its evicted() runs on `executor`, if the session still lives.
  template <typename Session>
  static void evict_on(const Ticket& ticket, const std::weak_ptr<Session>& session, asio::any_io_executor executor) {
    ticket->gate->on_evict(ticket, [session, executor] {
      asio::post(executor, [session] {
        if (auto s = session.lock()) s->evicted();
      });
    });
  }
  // The connection's handshake request is in and being checked: evicted only after idle ones.
  void handshake_received(const Ticket& ticket);
  // The connection proved a key: it leaves the unproven places and counts as proven, unless that
  // passes a limit (false, with the reason). An operator's always passes and counts apart.
  bool prove(const Ticket& ticket, bool operator_key, std::string* why);
  std::size_t open() const;
  std::size_t unproven() const;
  std::uint64_t evicted() const;
  const ConnectionLimits& limits() const { return limits_; }

  enum class State : std::uint8_t { kUnproven, kProven, kOperator, kEvicted };
  struct Place {
    Place(std::shared_ptr<ConnectionGate> g, asio::ip::address r, State s) : gate(std::move(g)), remote(r), state(s) {}
    Place(const Place&) = delete;
    ~Place() { gate->release(*this); }
    std::shared_ptr<ConnectionGate> gate;
    asio::ip::address remote;
    State state;                  // guarded by the gate's mutex
    bool handshaking = false;     // likewise
    std::function<void()> evict;  // likewise
  };

 private:
  void release(Place& place);
  void forget_unproven(Place& place);  // with mu_ held
  // Counts a proven connection from `remote`, unless that passes a limit (false, why). mu_ held.
  bool take_proven_place(const asio::ip::address& remote, std::string* why);
  ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::size_t total_ = 0;  // proven, operators apart
  std::size_t operators_ = 0;
  std::map<asio::ip::address, std::size_t> per_address_;
  std::list<Place*> unproven_;  // oldest first
  std::map<asio::ip::address, std::size_t> unproven_per_address_;
  std::uint64_t evicted_ = 0;
};

// Accepts connections until the acceptor closes and hands each admitted one to `on_connection`.
// A connection over the gate's limits is closed at once and counted (dropped_in). An accept
// error such as EMFILE (no descriptors left) is logged and the next accept waits 100 ms: trying
// again at once would spin the control loop while the condition lasts.
class AcceptLoop {
 public:
  using OnConnection = std::function<void(asio::ip::tcp::socket, ConnectionGate::Ticket)>;
  // `unproven`: whether connections must prove a key first (asked at each accept, as keys may be
  // set after the loop starts); such a connection is handed over unproven.
  AcceptLoop(asio::ip::tcp::acceptor& acceptor, std::shared_ptr<ConnectionGate> gate,
             std::shared_ptr<ChannelCounters> counters, std::string channel, OnConnection on_connection,
             std::function<bool()> unproven = {});
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
  std::function<bool()> unproven_;
  std::uint64_t accept_errors_ = 0;
  OncePer warnings_;
};

}  // namespace fednode::net
