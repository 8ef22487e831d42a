// The peer channel on loopback: packed datagrams between upgraded nodes, compact or v1 to a node
// that speaks only those (a rolling upgrade), and back to packed once it is upgraded.
#include "fednode/net/peer_transport.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <optional>
#include <thread>

#include "fednode/net/peer_codec.h"

namespace fednode::net {
namespace {

using namespace std::chrono_literals;
using Format = crypto::DatagramSealer::Format;

crypto::NodeKey fresh_key() {
  crypto::NodeKey k;
  crypto_kx_keypair(k.public_key.bytes.data(), k.secret.data());
  return k;
}

raft::Message heartbeat(raft::NodeId from, raft::NodeId to) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = 3;
  m.commit = 42;
  return m;
}

// A node of the previous version: sends and reads only v1 (raw socket, its own seal).
struct OldNode {
  OldNode(asio::io_context& io, const crypto::NodeKey& key) : socket(io, {asio::ip::address_v4::loopback(), 0}), sealer(key, 1, "c") {}
  void send(const raft::Message& m, std::uint16_t port, Format f, PeerEncoding e) {
    std::string d;
    ASSERT_TRUE(sealer.seal(m.to, encode_peer_message("c", m, e), &d, f).ok());
    socket.send_to(asio::buffer(d), asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), port));
  }
  // The next datagram, opened: its header format and body version.
  std::pair<Format, std::uint8_t> receive(raft::Message* m) {
    std::string buf(65536, '\0');
    asio::ip::udp::endpoint from;
    std::size_t n = socket.receive_from(asio::buffer(buf), from);
    std::string text;
    std::uint64_t sender = 0;
    Format f{};
    EXPECT_EQ(sealer.open(std::string_view(buf.data(), n), &sender, &text, &f), crypto::DatagramSealer::Verdict::kOk);
    std::uint8_t version = f == Format::kSalted ? kPeerProtocolSalted : kPeerProtocolPacked;
    if (f == Format::kPacked || f == Format::kSalted) {
      EXPECT_TRUE(decode_packed_peer_message(text, {sender, sealer.self_id()}, m).ok());
    } else {
      EXPECT_TRUE(decode_peer_message(text, "c", m, {sender, sealer.self_id()}, &version).ok());
    }
    return {f, version};
  }
  asio::ip::udp::socket socket;
  crypto::DatagramSealer sealer;
};

class PeerTransportTest : public ::testing::Test {
 protected:
  PeerTransportTest() : a_(io_, "c", 1400, [this](const raft::Message& m) { got_ = m; }) {}
  void SetUp() override {
    ASSERT_TRUE(a_.bind(PeerAddress{"127.0.0.1", 0}).ok());
    a_.set_sealer(std::make_unique<crypto::DatagramSealer>(ka_, 1, "c"));
  }
  raft::NodeId id(const crypto::NodeKey& k) { return crypto::node_id_of_key(k.public_key); }
  // Runs the loop until a message arrives at a_ (or 2 s).
  bool delivered() {
    got_.reset();
    for (int i = 0; i < 200 && !got_; ++i) io_.run_for(10ms);
    return got_.has_value();
  }

  asio::io_context io_;
  crypto::NodeKey ka_ = fresh_key(), kb_ = fresh_key();
  PeerTransport a_;
  std::optional<raft::Message> got_;
};

TEST_F(PeerTransportTest, UpgradedPeersSpeakSaltedAndAnOldOneIsAnsweredInItsOwn) {
  OldNode b(io_, kb_);
  b.sealer.add_peer(id(ka_), ka_.public_key);
  ASSERT_TRUE(a_.add_peer(id(kb_), PeerAddress{"127.0.0.1", b.socket.local_endpoint().port()}, &kb_.public_key).ok());
  raft::Message m;
  // a's heartbeat as b receives it: in this header format and body version.
  auto b_receives_from_a = [&](Format format, std::uint8_t version) {
    a_.send(heartbeat(id(ka_), id(kb_)));
    auto [f, v] = b.receive(&m);
    EXPECT_EQ(f, format);
    EXPECT_EQ(v, version);
    EXPECT_EQ(m, heartbeat(id(ka_), id(kb_)));
  };
  // b speaks `format`: a reads it, and answers in it from then on.
  auto b_speaks = [&](Format format, PeerEncoding encoding, std::uint8_t version) {
    b.send(heartbeat(id(kb_), id(ka_)), a_.port(), format, encoding);
    ASSERT_TRUE(delivered());
    EXPECT_EQ(*got_, heartbeat(id(kb_), id(ka_)));
    EXPECT_EQ(a_.version_for(id(kb_)), version);
    EXPECT_EQ(a_.heard_packed_from(id(kb_)), version >= kPeerProtocolPacked)
        << "packed means a version that reads deflated round commands";
    b_receives_from_a(format, version);
  };
  // Before it hears anything, a speaks salted: a heartbeat is 30 bytes with a one-byte epoch (the
  // packed header without the salt: 22; compact: 28; v1: about 100).
  EXPECT_EQ(a_.version_for(id(kb_)), kPeerProtocolSalted);
  b_receives_from_a(Format::kSalted, kPeerProtocolSalted);
  EXPECT_EQ(a_.counters().bytes_out, 30u);
  b_speaks(Format::kV1, PeerEncoding::kV1, kPeerProtocolV1);                        // not upgraded yet
  b_speaks(Format::kCompact, PeerEncoding::kCompactSealed, kPeerProtocolCompact);  // two versions behind
  b_speaks(Format::kPacked, PeerEncoding::kPacked, kPeerProtocolPacked);           // one version behind
  b_speaks(Format::kSalted, PeerEncoding::kPacked, kPeerProtocolSalted);           // this version
  EXPECT_EQ(a_.counters().messages_in, 4u);
  EXPECT_EQ(a_.counters().dropped_in, 0u);
}

// Datagrams already queued when the loop wakes are all taken in that one turn (one handler), so
// the node steps them all before its Ready; a bad one among them is dropped and the rest still go.
TEST_F(PeerTransportTest, ABurstIsTakenInOneTurnOfTheLoop) {
  OldNode b(io_, kb_);
  b.sealer.add_peer(id(ka_), ka_.public_key);
  ASSERT_TRUE(a_.add_peer(id(kb_), PeerAddress{"127.0.0.1", b.socket.local_endpoint().port()}, &kb_.public_key).ok());
  asio::ip::udp::endpoint to(asio::ip::address_v4::loopback(), a_.port());
  for (int i = 0; i < 10; ++i) {
    if (i == 4) b.socket.send_to(asio::buffer(std::string("garbage")), to);
    b.send(heartbeat(id(kb_), id(ka_)), a_.port(), Format::kCompact, PeerEncoding::kCompactSealed);
  }
  std::this_thread::sleep_for(50ms);  // all eleven are queued on a's socket
  ASSERT_EQ(io_.run_one_for(2s), 1u);
  EXPECT_EQ(a_.counters().messages_in, 10u);
  EXPECT_EQ(a_.counters().dropped_in, 1u);
}

// Insecure mode (--insecure): the compact body names sender, receiver and cluster itself, and a
// body of another cluster is dropped.
TEST(PeerTransportInsecure, CompactBodiesNameTheirSenderAndCluster) {
  asio::io_context io;
  std::optional<raft::Message> got;
  PeerTransport a(io, "c", 1400, [&](const raft::Message& m) { got = m; });
  PeerTransport b(io, "c", 1400, [](const raft::Message&) {});
  PeerTransport other(io, "other", 1400, [](const raft::Message&) {});
  for (PeerTransport* t : {&a, &b, &other}) ASSERT_TRUE(t->bind(PeerAddress{"127.0.0.1", 0}).ok());
  ASSERT_TRUE(b.add_peer(1, PeerAddress{"127.0.0.1", a.port()}).ok());
  ASSERT_TRUE(other.add_peer(1, PeerAddress{"127.0.0.1", a.port()}).ok());
  ASSERT_TRUE(a.add_peer(2, PeerAddress{"127.0.0.1", b.port()}).ok());
  EXPECT_EQ(b.version_for(1), kPeerProtocolCompact) << "packed bodies need a seal";
  b.send(heartbeat(2, 1));
  for (int i = 0; i < 200 && !got; ++i) io.run_for(10ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, heartbeat(2, 1));
  other.send(heartbeat(2, 1));
  for (int i = 0; i < 200 && a.counters().dropped_in == 0; ++i) io.run_for(10ms);
  EXPECT_EQ(a.counters().dropped_in, 1u);
  EXPECT_EQ(a.counters().messages_in, 1u);
}

}  // namespace
}  // namespace fednode::net
