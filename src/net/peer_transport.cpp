#include "fednode/net/peer_transport.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "fednode/net/peer_codec.h"

namespace fednode::net {

using asio::ip::udp;

PeerTransport::PeerTransport(asio::io_context& io, std::string cluster_id, std::size_t max_datagram, Handler handler)
    : io_(io), socket_(io), cluster_id_(std::move(cluster_id)), max_datagram_(max_datagram), handler_(std::move(handler)) {
  buffer_.resize(65536);
}

Status PeerTransport::bind(const PeerAddress& self) {
  std::error_code ec;
  udp::resolver resolver(io_);
  auto results = resolver.resolve(udp::v4(), self.host, std::to_string(self.port), ec);
  if (ec || results.empty()) {
    results = resolver.resolve(self.host, std::to_string(self.port), ec);
    if (ec || results.empty()) return Status::error("cannot resolve " + self.to_string() + ": " + ec.message());
  }
  udp::endpoint ep = *results.begin();
  socket_.open(ep.protocol(), ec);
  if (!ec) socket_.bind(ep, ec);
  if (ec) return Status::error("cannot bind UDP " + self.to_string() + ": " + ec.message());
  receive();
  return {};
}

std::uint16_t PeerTransport::port() const {
  std::error_code ec;
  auto ep = socket_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

Status PeerTransport::add_peer(raft::NodeId id, const PeerAddress& address, const crypto::PublicKey* key) {
  if (sealer_) {
    if (!key) return Status::error("peer " + address.to_string() + " has no public key (secure mode needs HOST:PORT=KEY)");
    if (crypto::node_id_of_key(*key) != id) {
      return Status::error("peer " + address.to_string() + ": its key does not match its node id");
    }
    sealer_->add_peer(id, *key);
  }
  std::error_code ec;
  udp::resolver resolver(io_);
  auto results = resolver.resolve(udp::v4(), address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) return Status::error("cannot resolve peer " + address.to_string() + ": " + ec.message());
  peers_[id] = *results.begin();
  return {};
}

void PeerTransport::remove_peer(raft::NodeId id) {
  peers_.erase(id);
  older_peers_.erase(id);
  heard_packed_.erase(id);
  if (sealer_) sealer_->remove_peer(id);
}

void PeerTransport::send(const raft::Message& m) {
  auto it = peers_.find(m.to);
  if (it == peers_.end()) {
    ++counters_.dropped_out;
    return;
  }
  using Format = crypto::DatagramSealer::Format;
  std::uint8_t version = version_for(m.to);
  PeerEncoding encoding = version == kPeerProtocolV1 ? PeerEncoding::kV1
                          : version >= kPeerProtocolPacked ? PeerEncoding::kPacked
                          : sealer_ ? PeerEncoding::kCompactSealed : PeerEncoding::kCompact;
  std::string bytes = encode_peer_message(cluster_id_, m, encoding);
  if (sealer_) {
    Format format = version == kPeerProtocolV1       ? Format::kV1
                    : version == kPeerProtocolCompact ? Format::kCompact
                    : version == kPeerProtocolPacked  ? Format::kPacked
                                                      : Format::kSalted;
    if (!sealer_->seal(m.to, bytes, &sealed_, format).ok()) {
      ++counters_.dropped_out;
      return;
    }
    bytes.swap(sealed_);
  }
  if (bytes.size() > max_datagram_) {
    ++counters_.dropped_out;
    spdlog::error("peer channel: {} message of {} bytes to node {:x} exceeds --max-datagram {}; dropped",
                  raft::message_type_name(m.type), bytes.size(), m.to, max_datagram_);
    return;
  }
  std::error_code ec;
  socket_.send_to(asio::buffer(bytes), it->second, 0, ec);  // UDP: never blocks for long
  if (ec) {
    ++counters_.dropped_out;
    return;
  }
  counters_.bytes_out += bytes.size();
  ++counters_.messages_out;
}

// After one datagram, the others already queued on the socket are taken in the same turn (up to
// a bound), so that the node steps them all before its next Ready: one fdatasync and one answer
// per burst, not per datagram.
void PeerTransport::receive() {
  socket_.async_receive_from(asio::buffer(buffer_), sender_, [this](const std::error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      on_datagram(n);
      for (int more = 1; more < kDrainPerTurn && socket_.is_open(); ++more) {
        // MSG_DONTWAIT: never wait here, even for a queued datagram the kernel then drops (a bad
        // checksum); the control loop must not stall.
        socklen_t len = static_cast<socklen_t>(sender_.capacity());
        ssize_t m = ::recvfrom(socket_.native_handle(), buffer_.data(), buffer_.size(), MSG_DONTWAIT, sender_.data(), &len);
        if (m < 0) break;  // EAGAIN: nothing queued (or an error the next async receive reports)
        sender_.resize(static_cast<std::size_t>(len));
        on_datagram(static_cast<std::size_t>(m));
      }
    }
    if (socket_.is_open()) receive();
  });
}

void PeerTransport::on_datagram(std::size_t n) {
  counters_.bytes_in += n;
  raft::Message m;
  std::string_view body(buffer_.data(), n);
  Status s;
  std::uint8_t version = 0;
  if (sealer_) {
    std::uint64_t from = 0;
    crypto::DatagramSealer::Format format{};
    auto verdict = sealer_->open(body, &from, &sealed_, &format);
    using V = crypto::DatagramSealer::Verdict;
    if (verdict == V::kOk) {
      SealedOrigin origin{from, sealer_->self_id()};
      if (format == crypto::DatagramSealer::Format::kPacked || format == crypto::DatagramSealer::Format::kSalted) {
        s = decode_packed_peer_message(sealed_, origin, &m);
        version = format == crypto::DatagramSealer::Format::kSalted ? kPeerProtocolSalted : kPeerProtocolPacked;
      } else {
        s = decode_peer_message(sealed_, cluster_id_, &m, origin, &version);
      }
      if (s.ok() && m.from != from) s = Status::error("the message names another sender than the one authenticated");
    } else {
      if (verdict == V::kReplayed) ++counters_.replayed;
      else ++counters_.auth_failed;
      s = Status::error(verdict == V::kReplayed ? "replayed" : verdict == V::kUnknownSender ? "from a stranger (no key for its sender id)"
                        : verdict == V::kMalformed ? "not a sealed datagram" : "authentication failed");
    }
  } else {
    s = decode_peer_message(body, cluster_id_, &m, {}, &version);
  }
  if (!s.ok()) {
    ++counters_.dropped_in;
    warn_dropped(s.message(), sender_);
    return;
  }
  ++counters_.messages_in;
  heard_version(m.from, version);
  handler_(m);
}

void PeerTransport::warn_dropped(const std::string& why, const udp::endpoint& from) {
  if (!warnings_.allow()) return;
  spdlog::warn("peer channel: dropped datagram from {}:{}: {} ({} similar warnings suppressed, {} dropped in all)",
               from.address().to_string(), from.port(), why, warnings_.held_back(), counters_.dropped_in);
}

std::uint8_t PeerTransport::version_for(raft::NodeId id) const {
  auto it = older_peers_.find(id);
  if (it != older_peers_.end()) return it->second;
  return sealer_ ? kPeerProtocolSalted : kPeerProtocolCompact;
}

void PeerTransport::heard_version(raft::NodeId id, std::uint8_t version) {
  if (!peers_.count(id)) return;
  if (version >= kPeerProtocolPacked) {
    heard_packed_.insert(id);
  } else {
    heard_packed_.erase(id);
  }
  if (version_for(id) == version) return;
  static constexpr const char* kNames[] = {"", "v1", "compact", "packed", "salted"};
  older_peers_.erase(id);
  if (version < version_for(id)) {
    older_peers_[id] = version;
    spdlog::info("peer channel: node {:x} speaks the {} peer protocol (an older fednode): answering it in {}", id,
                 kNames[version], kNames[version]);
  } else {
    spdlog::info("peer channel: node {:x} speaks the {} peer protocol again", id, kNames[version]);
  }
}

void PeerTransport::close() {
  std::error_code ec;
  socket_.close(ec);
}

}  // namespace fednode::net
