#pragma once
// PeerTransport: the Raft peer channel, one UDP socket on the node's port. Sends each
// raft::Message as one datagram (never larger than max_datagram: larger ones are counted and
// dropped), receives, decodes and hands messages to a callback. Malformed, foreign or truncated
// datagrams are counted and dropped with a rate-limited warning. Runs on the control loop's
// io_context; not thread-safe.
//
// With a DatagramSealer (secure mode, the default) every datagram is sealed for its receiver
// and every received one opened before it is parsed: forged, tampered, replayed datagrams and
// strangers' are dropped unread and counted (auth_failed, replayed); a sealed message whose
// body names another sender than the one authenticated is dropped too.
//
// Rolling upgrades: a node speaks the compact format (peer_codec.h, datagram_seal.h) to every
// peer until that peer sends it a v1 datagram; from then on it answers that peer in v1, until
// the peer speaks compact again (it was upgraded). A v1 node drops compact datagrams unread, so
// it times out and campaigns (in v1) within an election timeout, which is what tells us.
#include <asio.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>

#include "fednode/crypto/datagram_seal.h"
#include "fednode/net/channel_counters.h"
#include "fednode/util/once_per.h"
#include "fednode/raft/message.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

class PeerTransport {
 public:
  using Handler = std::function<void(const raft::Message&)>;
  PeerTransport(asio::io_context& io, std::string cluster_id, std::size_t max_datagram, Handler handler);

  Status bind(const PeerAddress& self);  // port 0: any free port (see port())
  std::uint16_t port() const;
  // Secure mode: seals and opens every datagram from now on.
  void set_sealer(std::unique_ptr<crypto::DatagramSealer> sealer) { sealer_ = std::move(sealer); }
  bool secure() const { return sealer_ != nullptr; }
  // Resolves and remembers where `id` listens, and in secure mode its key (required there).
  Status add_peer(raft::NodeId id, const PeerAddress& address, const crypto::PublicKey* key = nullptr);
  void remove_peer(raft::NodeId id);
  void send(const raft::Message& m);
  void close();
  const ChannelCounters& counters() const { return counters_; }
  // The version this node sends `id`: its newest (salted packed with keys, compact without) unless
  // the peer's last datagram was in an older one (a rolling upgrade).
  std::uint8_t version_for(raft::NodeId id) const;
  // Its last datagram was packed (salted or not): it reads packed round commands.
  bool heard_packed_from(raft::NodeId id) const { return heard_packed_.count(id) > 0; }

 private:
  void receive();
  void on_datagram(std::size_t n);
  static constexpr int kDrainPerTurn = 64;
  void warn_dropped(const std::string& why, const asio::ip::udp::endpoint& from);
  void heard_version(raft::NodeId id, std::uint8_t version);

  asio::io_context& io_;
  asio::ip::udp::socket socket_;
  std::string cluster_id_;
  std::size_t max_datagram_;
  Handler handler_;
  std::map<raft::NodeId, asio::ip::udp::endpoint> peers_;
  std::map<raft::NodeId, std::uint8_t> older_peers_;  // peers whose last datagram was older, and its version
  std::set<raft::NodeId> heard_packed_;               // peers whose last datagram was packed or salted
  std::unique_ptr<crypto::DatagramSealer> sealer_;
  std::string sealed_;
  std::string buffer_;
  asio::ip::udp::endpoint sender_;
  ChannelCounters counters_;
  OncePer warnings_;
};

}  // namespace fednode::net
