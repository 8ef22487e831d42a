// The sealed channels' decoders against arbitrary bytes: every random input, and every mutation
// of a valid one, is rejected without a crash, an exception or a read outside the input (the
// suite runs under the sanitizers in a debug build); seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include "../storage/temp_dir.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/handshake.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::crypto {
namespace {

std::string random_bytes(SeededRng& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng.next());
  return s;
}

std::string mutate(SeededRng& rng, std::string s) {
  std::size_t edits = 1 + rng.below(4);
  for (std::size_t i = 0; i < edits && !s.empty(); ++i) {
    switch (rng.below(3)) {
      case 0: s[rng.below(s.size())] ^= static_cast<char>(1 + rng.below(255)); break;
      case 1: s.resize(rng.below(s.size() + 1)); break;
      default: s.insert(rng.below(s.size() + 1), random_bytes(rng, 1 + rng.below(8))); break;
    }
  }
  return s;
}

class GarbageTest : public ::testing::Test {
 protected:
  GarbageTest() {
    a_ = make("a");
    b_ = make("b");
  }
  NodeKey make(const std::string& name) {
    PublicKey pub;
    EXPECT_TRUE(generate_key_file(dir_.sub(name + ".key"), &pub).ok());
    NodeKey k;
    EXPECT_TRUE(load_key_file(dir_.sub(name + ".key"), &k).ok());
    return k;
  }
  fednode::testing::TempDir dir_;
  NodeKey a_, b_;
};

TEST_F(GarbageTest, DatagramsOfRandomOrMutatedBytesNeverOpen) {
  DatagramSealer a(a_, 1, "c"), b(b_, 1, "c");
  a.add_peer(node_id_of_key(b_.public_key), b_.public_key);
  b.add_peer(node_id_of_key(a_.public_key), a_.public_key);
  SeededRng rng(2026);
  std::string valid, text;
  std::uint64_t from = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_NE(b.open(random_bytes(rng, rng.below(300)), &from, &text), DatagramSealer::Verdict::kOk);
    ASSERT_TRUE(a.seal(node_id_of_key(b_.public_key), std::string("m").append(std::to_string(i)), &valid).ok());
    std::string bad = mutate(rng, valid);
    if (bad != valid) {
      ASSERT_NE(b.open(bad, &from, &text), DatagramSealer::Verdict::kOk) << i;
    }
  }
}

TEST_F(GarbageTest, HandshakesAndFramesOfRandomOrMutatedBytesNeverPass) {
  SeededRng rng(77);
  auto admit = [](const PublicKey&) { return Status(); };
  std::string resp, got;
  for (int i = 0; i < 3000; ++i) {
    SecureSession s, c;
    ASSERT_FALSE(handshake_respond(b_, "p", random_bytes(rng, rng.below(200)), admit, &resp, &s).ok());
    HandshakeInitiator hi(a_, b_.public_key, "p");
    std::string req = hi.request(), bad = mutate(rng, req);
    if (bad != req) {
      ASSERT_FALSE(handshake_respond(b_, "p", bad, admit, &resp, &s).ok()) << i;
    }
    ASSERT_TRUE(handshake_respond(b_, "p", req, admit, &resp, &s).ok());
    std::string bad_resp = mutate(rng, resp);
    if (bad_resp != resp) {
      ASSERT_FALSE(hi.finish(bad_resp, &c).ok()) << i;
      continue;
    }
    ASSERT_TRUE(hi.finish(resp, &c).ok());
    std::string frame = c.send.seal("request " + std::to_string(i)).substr(4), bad_frame = mutate(rng, frame);
    if (bad_frame != frame) {
      ASSERT_FALSE(s.receive.open(bad_frame, &got).ok()) << i;
    }
    ASSERT_FALSE(s.receive.open(random_bytes(rng, rng.below(100)), &got).ok());
  }
}

}  // namespace
}  // namespace fednode::crypto
