#pragma once
// PeerTransport: the Raft peer channel, one UDP socket on the node's port. Sends each
// raft::Message as one datagram (never larger than max_datagram: larger ones are counted and
// dropped), receives, decodes and hands messages to a callback. Malformed, foreign or truncated
// datagrams are counted and dropped with a rate-limited warning. Runs on the control loop's
// io_context; not thread-safe.
#include <asio.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "fednode/net/channel_counters.h"
#include "fednode/raft/message.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

class PeerTransport {
 public:
  using Handler = std::function<void(const raft::Message&)>;
  PeerTransport(asio::io_context& io, std::string cluster_id, std::size_t max_datagram, Handler handler);

  Status bind(const PeerAddress& self);
  // Resolves and remembers where `id` listens.
  Status add_peer(raft::NodeId id, const PeerAddress& address);
  void remove_peer(raft::NodeId id);
  void send(const raft::Message& m);
  void close();
  const ChannelCounters& counters() const { return counters_; }

 private:
  void receive();
  void warn_dropped(const std::string& why, const asio::ip::udp::endpoint& from);

  asio::io_context& io_;
  asio::ip::udp::socket socket_;
  std::string cluster_id_;
  std::size_t max_datagram_;
  Handler handler_;
  std::map<raft::NodeId, asio::ip::udp::endpoint> peers_;
  std::string buffer_;
  asio::ip::udp::endpoint sender_;
  ChannelCounters counters_;
  std::chrono::steady_clock::time_point last_warning_{};
  std::uint64_t suppressed_warnings_ = 0;
};

}  // namespace fednode::net
