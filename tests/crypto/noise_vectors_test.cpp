// Noise_IK_25519_ChaChaPoly_BLAKE2b against the published test vectors: the cacophony vectors
// (Haskell cacophony, as shipped in snow's tests/vectors/cacophony.txt) and snow's own
// (tests/vectors/snow.txt). Each gives both sides' static and ephemeral keys, the prologue, the
// payloads and the exact ciphertexts: two handshake messages, then transport messages alternating
// initiator -> responder and back. Both sides are run and must produce every byte.
#include <sodium.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fednode/crypto/noise.h"

namespace fednode::crypto {
namespace {

struct Message {
  const char* payload;
  const char* ciphertext;
};

struct Vector {
  const char* source;
  const char* prologue;
  const char* init_static;
  const char* init_ephemeral;
  const char* init_remote_static;
  const char* resp_static;
  const char* resp_ephemeral;
  const char* handshake_hash;  // empty where the source gives none
  std::vector<Message> messages;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> v = {
    {"cacophony",
     "4a6f686e2047616c74",
     "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
     "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
     "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
     "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
     "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
     "1c8fa891cb414fedba6daa7c6f4ae0a6d98e5f9768cc9cecd27e805614943ee9c8a1b27fbfb76dc197255c8aa69f6b4285c423840b8bedf45e652ca64f797d81",
     {
         {"4c756477696720766f6e204d69736573",
          "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088efdd2f88f1db7e1fb0e99c64419097af91cee64e470f4b6fcd9298ce0b56fe20f86e13bf70439c538e3602a7127af71a29cc"},
         {"4d757272617920526f746862617264",
          "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088439f069b267a06b3de3ecb1043bcb098e9af91d9c64748d998c7b47890871571"},
         {"462e20412e20486179656b",
          "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07"},
         {"4361726c204d656e676572",
          "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2"},
         {"4a65616e2d426170746973746520536179",
          "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa02fc7"},
         {"457567656e2042f6686d20766f6e2042617765726b",
          "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9d56f30e935d3"}}},
    {"snow",
     "5468657265206973206e6f20726967687420616e642077726f6e672e2054686572652773206f6e6c792066756e20616e6420626f72696e672e",
     "7d96e7fbefd508f6d553010ef8b53b9800f30bdd1bc82d141c543cc4afe31bde",
     "3fa848b150e958dad41a3e1e455c65c46b773d806a55f4abdcae3f5e3f80d816",
     "c2330a71efe7ad7655ad63ec6ac84e0be70c79b3a9808364741e99abe231b240",
     "f192f565f752e8e706d20bd2a71b22d94b804bfeb499ac84391f1af846d1824d",
     "3092d9e2e44264afea07fd9b43562177e9ae63d65cbdc471d3539247e2ba1a36",
     "",
     {
         {"eab1b0a96295a7f0b29f013bf2baa6d74ab79b2b2f69b79764eb97684ca17e5d",
          "4b42c759ee133dc6a49aa1b19fc1727ca3d3876d6ed5479b60fe2963fede0f4ff9f68f1540f591b16150d98b3f65371da84c2dcfbf18f02295edcd20fdcf315c83529bc394387fc22bfc8583e23514c28884729838efe481016f828fefca4f53c4e61c7ed5a7b297044e11b90a28d2e264ac2335e254c7b636d1d0406aea1e3e"},
         {"1a1d45c87a116c31f9704d9c599f833e65dbe1fc511a50fc85e07b440806430b",
          "058e04eada2f87f02ffb22ec049d3d629008eb672976078b61222af7822e9c19b04dc83d279b6d418149e3ba99ff887c64a2f9da7a1ad2c83bbea46759a503933f9cfc8c06dbc2b9170a0fb6a5a28740"},
         {"752ce6ebed958e84d2e8ffa89ca929e500bc987d3ba01196f850fe73d7320822",
          "e4a719610c329661dcc3084484c92025c7fadff6910c6d9e8dcdae29d76cd2d33c74218a3588732db968a282ba4689ec"},
         {"f7496b1a99db7ba96ce16c642662e966b8323aca4e7c8e2ed51d3e764c05a363",
          "8cdb272f66c39e16182c1b68a45052f97264ca6a337e338dbdd1121005fb268b637d94ecc94ded7352c1e22bf7d2a32d"}}},
  };
  return v;
}

std::string unhex(const char* hex) {
  std::string out;
  for (const char* p = hex; p[0] && p[1]; p += 2) out.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  return out;
}

std::string hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

NodeKey key_from_secret(const char* secret_hex) {
  NodeKey k;
  std::string s = unhex(secret_hex);
  std::copy(s.begin(), s.end(), k.secret.begin());
  crypto_scalarmult_base(k.public_key.bytes.data(), k.secret.data());
  return k;
}

class NoiseVectors : public ::testing::TestWithParam<std::size_t> {};

TEST_P(NoiseVectors, BothSidesProduceEveryByte) {
  const Vector& v = vectors()[GetParam()];
  NodeKey init_static = key_from_secret(v.init_static), resp_static = key_from_secret(v.resp_static);
  PublicKey remote;
  std::string rs = unhex(v.init_remote_static);
  std::copy(rs.begin(), rs.end(), remote.bytes.begin());
  ASSERT_EQ(remote, resp_static.public_key) << "the vector's remote static is the responder's";
  std::string prologue = unhex(v.prologue);
  NoiseHandshake initiator = NoiseHandshake::initiator(init_static, remote, prologue, key_from_secret(v.init_ephemeral));
  NoiseHandshake responder = NoiseHandshake::responder(resp_static, prologue, key_from_secret(v.resp_ephemeral));
  ASSERT_GE(v.messages.size(), 2u);

  std::string message, payload;
  ASSERT_TRUE(initiator.write_message(unhex(v.messages[0].payload), &message).ok());
  EXPECT_EQ(hex(message), v.messages[0].ciphertext) << "first handshake message";
  ASSERT_TRUE(responder.read_message(message, &payload).ok());
  EXPECT_EQ(hex(payload), v.messages[0].payload);
  EXPECT_EQ(responder.remote_static(), init_static.public_key);

  ASSERT_TRUE(responder.write_message(unhex(v.messages[1].payload), &message).ok());
  EXPECT_EQ(hex(message), v.messages[1].ciphertext) << "second handshake message";
  ASSERT_TRUE(initiator.read_message(message, &payload).ok());
  EXPECT_EQ(hex(payload), v.messages[1].payload);
  ASSERT_TRUE(initiator.finished());
  ASSERT_TRUE(responder.finished());
  auto h = initiator.handshake_hash();
  std::string_view hash(reinterpret_cast<const char*>(h.data()), h.size());
  EXPECT_EQ(initiator.handshake_hash(), responder.handshake_hash());
  if (*v.handshake_hash) {
    EXPECT_EQ(hex(hash), v.handshake_hash);
  }

  NoiseCipher init_send, init_receive, resp_send, resp_receive;
  initiator.split(&init_send, &init_receive);
  responder.split(&resp_send, &resp_receive);
  for (std::size_t i = 2; i < v.messages.size(); ++i) {
    bool from_initiator = i % 2 == 0;
    NoiseCipher& send = from_initiator ? init_send : resp_send;
    NoiseCipher& receive = from_initiator ? resp_receive : init_receive;
    std::string c = send.encrypt_with_ad({}, unhex(v.messages[i].payload));
    EXPECT_EQ(hex(c), v.messages[i].ciphertext) << "transport message " << i;
    ASSERT_TRUE(receive.decrypt_with_ad({}, c, &payload)) << "transport message " << i;
    EXPECT_EQ(hex(payload), v.messages[i].payload);
  }
}

INSTANTIATE_TEST_SUITE_P(Published, NoiseVectors, ::testing::Range<std::size_t>(0, vectors().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::string(vectors()[info.param].source);
                         });

// The state machine refuses what the framework forbids: writing or reading out of turn, and a
// first message that names the responder's key but is changed anywhere (each byte flipped).
TEST(NoiseHandshake, RefusesOutOfTurnAndEveryChangedByte) {
  NodeKey a = key_from_secret("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1");
  NodeKey b = key_from_secret("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893");
  NoiseHandshake i = NoiseHandshake::initiator(a, b.public_key, "p");
  std::string message, payload;
  EXPECT_FALSE(i.read_message(std::string(48, 'x'), &payload).ok());
  ASSERT_TRUE(i.write_message("hello", &message).ok());
  EXPECT_FALSE(i.write_message("again", &message).ok());
  for (std::size_t at = 0; at < message.size(); ++at) {
    std::string changed = message;
    changed[at] ^= 0x01;
    NoiseHandshake r = NoiseHandshake::responder(b, "p");
    EXPECT_FALSE(r.read_message(changed, &payload).ok()) << "byte " << at;
    EXPECT_FALSE(r.finished());
  }
  NoiseHandshake r = NoiseHandshake::responder(b, "p");
  EXPECT_FALSE(r.write_message("", &message).ok()) << "a responder writes only after reading";
}

}  // namespace
}  // namespace fednode::crypto
