// The sealed stream's handshake and frames: both ends authenticated by their static keys, only
// admitted initiators, nothing tampered, reordered or replayed goes through.
#include "fednode/crypto/handshake.h"

#include <gtest/gtest.h>

#include "../storage/temp_dir.h"

namespace fednode::crypto {
namespace {

class HandshakeTest : public ::testing::Test {
 protected:
  HandshakeTest() {
    client_ = make("client.key");
    server_ = make("server.key");
    stranger_ = make("stranger.key");
  }
  NodeKey make(const std::string& name) {
    PublicKey pub;
    EXPECT_TRUE(generate_key_file(dir_.path() + "/" + name, &pub).ok());
    NodeKey k;
    EXPECT_TRUE(load_key_file(dir_.path() + "/" + name, &k).ok());
    return k;
  }
  std::function<Status(const PublicKey&)> only(const NodeKey& k) {
    return [pub = k.public_key](const PublicKey& who) {
      return who == pub ? Status() : Status::error("not a member");
    };
  }
  // The payload of one frame as the receiver reads it off the stream.
  static std::string body(const std::string& frame) { return frame.substr(4); }

  fednode::testing::TempDir dir_;
  NodeKey client_, server_, stranger_;
};

TEST_F(HandshakeTest, BothEndsAgreeAndFramesFlowBothWays) {
  HandshakeInitiator hi(client_, server_.public_key, "cluster/data");
  std::string req = hi.request();
  ASSERT_EQ(req.size(), kHandshakeRequestBytes);
  EXPECT_EQ(req.find(std::string(reinterpret_cast<const char*>(client_.public_key.bytes.data()), 32)), std::string::npos)
      << "the initiator's identity is sent in the clear";
  std::string resp;
  SecureSession server, client;
  ASSERT_TRUE(handshake_respond(server_, "cluster/data", req, only(client_), &resp, &server).ok());
  ASSERT_EQ(resp.size(), kHandshakeResponseBytes);
  ASSERT_TRUE(hi.finish(resp, &client).ok());
  EXPECT_EQ(server.peer, client_.public_key);
  EXPECT_EQ(client.peer, server_.public_key);
  std::string got;
  for (int i = 0; i < 3; ++i) {
    std::string f = client.send.seal("update " + std::to_string(i));
    ASSERT_EQ(f.size(), kFrameOverhead + 8);
    ASSERT_TRUE(server.receive.open(body(f), &got).ok());
    EXPECT_EQ(got, "update " + std::to_string(i));
    ASSERT_TRUE(client.receive.open(body(server.send.seal("ack")), &got).ok());
    EXPECT_EQ(got, "ack");
  }
}

TEST_F(HandshakeTest, AStrangerIsNotAdmittedAndAnImpostorCannotFinish) {
  HandshakeInitiator hi(stranger_, server_.public_key, "p");
  std::string resp;
  SecureSession s;
  Status refused = handshake_respond(server_, "p", hi.request(), only(client_), &resp, &s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(), "not a member");
  // A node that is not the server (it lacks the server's secret) cannot answer a request meant
  // for the server.
  HandshakeInitiator to_server(client_, server_.public_key, "p");
  EXPECT_FALSE(handshake_respond(stranger_, "p", to_server.request(), only(client_), &resp, &s).ok());
}

TEST_F(HandshakeTest, ATamperedOrForeignHandshakeFails) {
  std::string resp;
  SecureSession s, c;
  for (std::size_t i = 0; i < kHandshakeRequestBytes; i += 7) {
    HandshakeInitiator hi(client_, server_.public_key, "p");
    std::string req = hi.request();
    req[i] = static_cast<char>(req[i] ^ 0x20);
    EXPECT_FALSE(handshake_respond(server_, "p", req, only(client_), &resp, &s).ok()) << "byte " << i;
  }
  HandshakeInitiator other_cluster(client_, server_.public_key, "another cluster");
  EXPECT_FALSE(handshake_respond(server_, "p", other_cluster.request(), only(client_), &resp, &s).ok());
  HandshakeInitiator hi(client_, server_.public_key, "p");
  ASSERT_TRUE(handshake_respond(server_, "p", hi.request(), only(client_), &resp, &s).ok());
  resp[40] = static_cast<char>(resp[40] ^ 1);
  EXPECT_FALSE(hi.finish(resp, &c).ok());
  EXPECT_FALSE(hi.finish("short", &c).ok());
  EXPECT_FALSE(handshake_respond(server_, "p", "short", only(client_), &resp, &s).ok());
}

TEST_F(HandshakeTest, FramesCannotBeTamperedReorderedOrReplayed) {
  HandshakeInitiator hi(client_, server_.public_key, "p");
  std::string resp, got;
  SecureSession server, client;
  ASSERT_TRUE(handshake_respond(server_, "p", hi.request(), only(client_), &resp, &server).ok());
  ASSERT_TRUE(hi.finish(resp, &client).ok());
  std::string f1 = client.send.seal("one"), f2 = client.send.seal("two");
  std::string bad = body(f1);
  bad[0] = static_cast<char>(bad[0] ^ 1);
  EXPECT_FALSE(server.receive.open(bad, &got).ok());
  EXPECT_FALSE(server.receive.open(body(f2), &got).ok()) << "out of order";
  ASSERT_TRUE(server.receive.open(body(f1), &got).ok());
  EXPECT_FALSE(server.receive.open(body(f1), &got).ok()) << "replayed";
  ASSERT_TRUE(server.receive.open(body(f2), &got).ok());
  EXPECT_EQ(got, "two");
  // A frame sealed for the other direction is not accepted either.
  EXPECT_FALSE(server.receive.open(body(server.send.seal("echo")), &got).ok());
}

TEST_F(HandshakeTest, EverySessionHasFreshKeys) {
  std::string resp, got;
  SecureSession s1, c1, s2, c2;
  HandshakeInitiator a(client_, server_.public_key, "p"), b(client_, server_.public_key, "p");
  ASSERT_TRUE(handshake_respond(server_, "p", a.request(), only(client_), &resp, &s1).ok());
  ASSERT_TRUE(a.finish(resp, &c1).ok());
  ASSERT_TRUE(handshake_respond(server_, "p", b.request(), only(client_), &resp, &s2).ok());
  ASSERT_TRUE(b.finish(resp, &c2).ok());
  EXPECT_FALSE(s2.receive.open(body(c1.send.seal("session one")), &got).ok())
      << "a frame of one session opened in another";
}

}  // namespace
}  // namespace fednode::crypto
