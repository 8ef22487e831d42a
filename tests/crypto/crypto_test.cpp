// Node keys and sealed datagrams: who may speak, and that nothing sealed can be forged,
// re-attributed, moved to another cluster or replayed.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "../storage/temp_dir.h"
#include "fednode/crypto/boot_epoch.h"
#include "fednode/crypto/datagram_seal.h"
#include "fednode/crypto/node_key.h"
#include "fednode/util/big_endian.h"
#include "fednode/util/file_io.h"
#include "fednode/util/varint.h"

namespace fednode::crypto {
namespace {

NodeKey make_key(const std::string& dir, const std::string& name) {
  PublicKey pub;
  EXPECT_TRUE(generate_key_file(dir + "/" + name, &pub).ok());
  NodeKey k;
  EXPECT_TRUE(load_key_file(dir + "/" + name, &k).ok());
  EXPECT_EQ(k.public_key, pub);
  return k;
}

TEST(NodeKey, KeygenWritesAnOwnerOnlyFileAndNeverOverwrites) {
  fednode::testing::TempDir dir;
  PublicKey pub;
  ASSERT_TRUE(generate_key_file(dir.path() + "/node.key", &pub).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(pub.text().size(), 43u);
  std::string why;
  auto parsed = PublicKey::parse(pub.text(), &why);
  ASSERT_TRUE(parsed) << why;
  EXPECT_EQ(*parsed, pub);
  PublicKey again;
  Status s = generate_key_file(dir.path() + "/node.key", &again);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("never overwritten"), std::string::npos) << s.message();
}

// No key keygen makes starts with '-' (it would read as an option); 600 keys hold about 9 that
// would have, and one that does still parses.
TEST(NodeKey, KeygenNeverMakesAKeyThatReadsAsAnOption) {
  fednode::testing::TempDir dir;
  for (int i = 0; i < 600; ++i) {
    PublicKey pub;
    ASSERT_TRUE(generate_key_file(dir.path() + "/k" + std::to_string(i), &pub).ok());
    ASSERT_NE(pub.text().front(), '-') << pub.text();
  }
  std::string why;
  EXPECT_TRUE(PublicKey::parse("-0bIvBjKC2L9RKyd12ewO2nR6Ddn2NPrPWmESSVwWig", &why)) << why;
}

TEST(NodeKey, AKeyFileOthersCanReadIsRefused) {
  fednode::testing::TempDir dir;
  make_key(dir.path(), "node.key");
  ::chmod((dir.path() + "/node.key").c_str(), 0640);
  NodeKey k;
  Status s = load_key_file(dir.path() + "/node.key", &k);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("0640"), std::string::npos) << s.message();
  Status missing = load_key_file(dir.path() + "/absent.key", &k);
  EXPECT_NE(missing.message().find("fednode keygen"), std::string::npos) << missing.message();
}

// The key is checked on the descriptor it is read from: a symlink in its place is refused (not
// followed to whatever it names), and so is a directory or a fifo. (A key of another user is
// refused too, but only root could read one, and root may: see node_key.cpp.)
TEST(NodeKey, ASymlinkAnotherUsersFileOrANonFileIsRefused) {
  fednode::testing::TempDir dir;
  make_key(dir.path(), "real.key");
  std::filesystem::create_symlink(dir.path() + "/real.key", dir.path() + "/link.key");
  NodeKey k;
  Status s = load_key_file(dir.path() + "/link.key", &k);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.message();
  EXPECT_TRUE(load_key_file(dir.path() + "/real.key", &k).ok());
  std::filesystem::create_directory(dir.path() + "/dir.key");
  s = load_key_file(dir.path() + "/dir.key", &k);
  EXPECT_FALSE(s.ok());
  ASSERT_EQ(::mkfifo((dir.path() + "/fifo.key").c_str(), 0600), 0);  // no writer: opening must not wait for one
  s = load_key_file(dir.path() + "/fifo.key", &k);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
}

TEST(NodeKey, BadPublicKeysAndTamperedFilesAreRefused) {
  std::string why;
  EXPECT_FALSE(PublicKey::parse("short", &why));
  EXPECT_FALSE(PublicKey::parse(std::string(43, '*'), &why));
  fednode::testing::TempDir dir;
  NodeKey a = make_key(dir.path(), "a.key");
  NodeKey b = make_key(dir.path(), "b.key");
  EXPECT_NE(node_id_of_key(a.public_key), node_id_of_key(b.public_key));
  // A file whose public key is not the secret's.
  std::string forged = "fednode-node-key 1\npublic " + b.public_key.text() + "\nsecret " + a.public_key.text() + "\n";
  int fd = ::open((dir.path() + "/forged.key").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, forged.data(), forged.size()), static_cast<ssize_t>(forged.size()));
  ::close(fd);
  NodeKey k;
  EXPECT_FALSE(load_key_file(dir.path() + "/forged.key", &k).ok());
}

class SealTest : public ::testing::Test {
 protected:
  SealTest() {
    a_ = make_key(dir_.path(), "a.key");
    b_ = make_key(dir_.path(), "b.key");
    stranger_ = make_key(dir_.path(), "s.key");
  }
  std::uint64_t id(const NodeKey& k) { return node_id_of_key(k.public_key); }
  fednode::testing::TempDir dir_;
  NodeKey a_, b_, stranger_;
};

TEST_F(SealTest, APairReadsEachOthersDatagramsBothWays) {
  DatagramSealer a(a_, 1, "c"), b(b_, 1, "c");
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  ASSERT_TRUE(a.seal(id(b_), "append entries", &d).ok());
  EXPECT_EQ(d.find("append entries"), std::string::npos) << "plaintext visible on the wire";
  ASSERT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(from, id(a_));
  EXPECT_EQ(text, "append entries");
  ASSERT_TRUE(b.seal(id(a_), "ack", &d).ok());
  ASSERT_EQ(a.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(text, "ack");
}

TEST_F(SealTest, EveryFlippedBitIsCaught) {
  DatagramSealer a(a_, 1, "c"), b(b_, 1, "c");
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  ASSERT_TRUE(a.seal(id(b_), "vote for me", &d).ok());
  for (std::size_t i = 0; i < d.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = d;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_NE(b.open(bad, &from, &text), DatagramSealer::Verdict::kOk) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk) << "the intact datagram, after all the bad ones";
}

TEST_F(SealTest, StrangersAndImpostorsAreDropped) {
  DatagramSealer b(b_, 1, "c");
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  // A stranger with its own key: unknown.
  DatagramSealer s(stranger_, 1, "c");
  s.add_peer(id(b_), b_.public_key);
  ASSERT_TRUE(s.seal(id(b_), "hello", &d, DatagramSealer::Format::kCompact).ok());
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kUnknownSender);
  // The stranger writes a's id (v1) or tag (compact, packed) into the header: it cannot seal
  // under a's key.
  std::uint64_t a_id = id(a_);
  std::string forged = d;
  forged[1] = static_cast<char>(a_id >> 8);
  forged[2] = static_cast<char>(a_id);
  EXPECT_EQ(b.open(forged, &from, &text), DatagramSealer::Verdict::kAuthFailed);
  ASSERT_TRUE(s.seal(id(b_), "hello", &d, DatagramSealer::Format::kPacked).ok());
  forged = d;
  forged[0] = static_cast<char>(0x80 | (a_id & 0x3f));
  EXPECT_EQ(b.open(forged, &from, &text), DatagramSealer::Verdict::kAuthFailed);
  ASSERT_TRUE(s.seal(id(b_), "hello", &d, DatagramSealer::Format::kV1).ok());
  forged = d;
  for (int i = 0; i < 8; ++i) forged[3 + i] = static_cast<char>(a_id >> (8 * (7 - i)));
  EXPECT_EQ(b.open(forged, &from, &text), DatagramSealer::Verdict::kAuthFailed);
  // Another cluster with the same keys.
  DatagramSealer a_other(a_, 1, "other-cluster");
  a_other.add_peer(id(b_), b_.public_key);
  ASSERT_TRUE(a_other.seal(id(b_), "hello", &d).ok());
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kAuthFailed);
  // Garbage and short input, either header.
  EXPECT_EQ(b.open("", &from, &text), DatagramSealer::Verdict::kMalformed);
  EXPECT_EQ(b.open(std::string(200, 'F'), &from, &text), DatagramSealer::Verdict::kMalformed);
  EXPECT_EQ(b.open("\xf2\x01", &from, &text), DatagramSealer::Verdict::kMalformed);
  EXPECT_EQ(b.open("\x80", &from, &text), DatagramSealer::Verdict::kMalformed);
  EXPECT_EQ(b.open(std::string("\x80\x01\x01", 3) + std::string(15, 'x'), &from, &text),
            DatagramSealer::Verdict::kMalformed)
      << "packed, shorter than a tag";
  EXPECT_EQ(b.open(std::string("\xf2\x01\x02\x01\x01", 5) + std::string(15, 'x'), &from, &text),
            DatagramSealer::Verdict::kMalformed)
      << "shorter than a tag";
  EXPECT_EQ(b.open(std::string("\xf2\x01\x02\x81\x00", 5) + std::string(16, 'x'), &from, &text),
            DatagramSealer::Verdict::kMalformed)
      << "an epoch not in its shortest form";
  EXPECT_EQ(b.open(std::string("\xf2\x01\x02", 3) + std::string(11, '\xff'), &from, &text),
            DatagramSealer::Verdict::kMalformed)
      << "a varint past 64 bits";
}

// What a node sends is salted: the packed header and the 8-byte boot salt. Packed, compact and v1
// datagrams still open (a peer not upgraded yet): the receiver reports which format each used.
TEST_F(SealTest, TheSaltedHeaderIsSmallAndOlderFormatsStillOpen) {
  DatagramSealer a(a_, 3, "c"), b(b_, 1, "c");
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  DatagramSealer::Format format{};
  ASSERT_TRUE(a.seal(id(b_), "hb", &d).ok());
  EXPECT_EQ(d.size(), DatagramSealer::kSaltedMinOverhead + 2);
  EXPECT_EQ(static_cast<unsigned char>(d[0]), id(a_) & 0x3f);
  EXPECT_EQ(get_be(d.data() + 2, 8), a.boot_salt());
  ASSERT_EQ(b.open(d, &from, &text, &format), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(format, DatagramSealer::Format::kSalted);
  EXPECT_EQ(from, id(a_));
  EXPECT_EQ(text, "hb");
  // To a peer not upgraded yet, a speaks its format; the formats share a's counter to b.
  ASSERT_TRUE(a.seal(id(b_), "hb", &d, DatagramSealer::Format::kPacked).ok());
  EXPECT_EQ(d.size(), DatagramSealer::kPackedMinOverhead + 2);
  EXPECT_EQ(static_cast<unsigned char>(d[0]), 0x80 | (id(a_) & 0x3f));
  ASSERT_EQ(b.open(d, &from, &text, &format), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(format, DatagramSealer::Format::kPacked);
  EXPECT_EQ(from, id(a_));
  EXPECT_EQ(text, "hb");
  ASSERT_TRUE(a.seal(id(b_), "hb", &d, DatagramSealer::Format::kCompact).ok());
  EXPECT_EQ(d.size(), DatagramSealer::kCompactMinOverhead + 2);
  ASSERT_EQ(b.open(d, &from, &text, &format), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(format, DatagramSealer::Format::kCompact);
  EXPECT_EQ(from, id(a_));
  ASSERT_TRUE(a.seal(id(b_), "hb", &d, DatagramSealer::Format::kV1).ok());
  EXPECT_EQ(d.size(), DatagramSealer::kOverhead + 2);
  ASSERT_EQ(b.open(d, &from, &text, &format), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(format, DatagramSealer::Format::kV1);
  EXPECT_EQ(text, "hb");
  // Counters past 127 take a second byte; each pair counts on its own.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(a.seal(id(b_), "hb", &d).ok());
  EXPECT_EQ(d.size(), DatagramSealer::kSaltedMinOverhead + 3);
  ASSERT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  // A compact datagram sealed for another receiver does not open here (the receiver is in the
  // associated data, not on the wire).
  DatagramSealer s(stranger_, 1, "c");
  s.add_peer(id(a_), a_.public_key);
  a.add_peer(id(stranger_), stranger_.public_key);
  ASSERT_TRUE(a.seal(id(stranger_), "for s", &d).ok());
  EXPECT_NE(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(s.open(d, &from, &text), DatagramSealer::Verdict::kOk);
}

// Two peers whose ids share the 16-bit tag: each datagram opens under its own sender's key, and
// replays of either are still caught.
class SealTags : public ::testing::TestWithParam<DatagramSealer::Format> {};

TEST_P(SealTags, PeersSharingATagAreBothRead) {
  const DatagramSealer::Format format = GetParam();
  const std::uint64_t tag_mask = format == DatagramSealer::Format::kCompact ? 0xffff : 0x3f;
  std::map<std::uint64_t, NodeKey> by_tag;
  NodeKey first, second;
  for (int i = 0; i < 20000; ++i) {
    NodeKey k;
    crypto_kx_keypair(k.public_key.bytes.data(), k.secret.data());
    auto [it, fresh] = by_tag.emplace(node_id_of_key(k.public_key) & tag_mask, k);
    if (!fresh) {
      first = it->second;
      second = k;
      break;
    }
  }
  std::uint64_t id1 = node_id_of_key(first.public_key), id2 = node_id_of_key(second.public_key);
  ASSERT_NE(id1, id2) << "no two of 20,000 keys shared a tag";
  ASSERT_EQ(id1 & tag_mask, id2 & tag_mask);
  NodeKey r;
  crypto_kx_keypair(r.public_key.bytes.data(), r.secret.data());
  DatagramSealer receiver(r, 1, "c"), s1(first, 1, "c"), s2(second, 1, "c");
  receiver.add_peer(id1, first.public_key);
  receiver.add_peer(id2, second.public_key);
  s1.add_peer(node_id_of_key(r.public_key), r.public_key);
  s2.add_peer(node_id_of_key(r.public_key), r.public_key);
  std::string d1, d2, text;
  std::uint64_t from = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s1.seal(node_id_of_key(r.public_key), "one", &d1, format).ok());
    ASSERT_TRUE(s2.seal(node_id_of_key(r.public_key), "two", &d2, format).ok());
    ASSERT_EQ(receiver.open(d2, &from, &text), DatagramSealer::Verdict::kOk);
    EXPECT_EQ(from, id2);
    EXPECT_EQ(text, "two");
    ASSERT_EQ(receiver.open(d1, &from, &text), DatagramSealer::Verdict::kOk);
    EXPECT_EQ(from, id1);
    EXPECT_EQ(text, "one");
  }
  EXPECT_EQ(receiver.open(d1, &from, &text), DatagramSealer::Verdict::kReplayed);
  EXPECT_EQ(receiver.open(d2, &from, &text), DatagramSealer::Verdict::kReplayed);
}

INSTANTIATE_TEST_SUITE_P(CompactPackedAndSalted, SealTags,
                         ::testing::Values(DatagramSealer::Format::kCompact, DatagramSealer::Format::kPacked,
                                           DatagramSealer::Format::kSalted),
                         [](const ::testing::TestParamInfo<DatagramSealer::Format>& info) {
                           switch (info.param) {
                             case DatagramSealer::Format::kCompact: return std::string("Compact");
                             case DatagramSealer::Format::kPacked: return std::string("Packed");
                             case DatagramSealer::Format::kSalted: return std::string("Salted");
                             default: return std::string("V1");
                           }
                         });

TEST_F(SealTest, ReplaysAreDroppedAcrossRestartsToo) {
  DatagramSealer b(b_, 1, "c");
  b.add_peer(id(a_), a_.public_key);
  std::string text;
  std::uint64_t from = 0;
  DatagramSealer a1(a_, 1, "c");
  a1.add_peer(id(b_), b_.public_key);
  std::vector<std::string> sent(70);
  for (auto& d : sent) ASSERT_TRUE(a1.seal(id(b_), "m", &d).ok());
  // Out of order within the window: fine, once each.
  ASSERT_EQ(b.open(sent[5], &from, &text), DatagramSealer::Verdict::kOk);
  ASSERT_EQ(b.open(sent[3], &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(b.open(sent[3], &from, &text), DatagramSealer::Verdict::kReplayed);
  EXPECT_EQ(b.open(sent[5], &from, &text), DatagramSealer::Verdict::kReplayed);
  ASSERT_EQ(b.open(sent[69], &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(b.open(sent[4], &from, &text), DatagramSealer::Verdict::kReplayed) << "older than the window";
  // The sender restarts with the next epoch: its counter starts again and is accepted.
  DatagramSealer a2(a_, 2, "c");
  a2.add_peer(id(b_), b_.public_key);
  std::string d;
  ASSERT_TRUE(a2.seal(id(b_), "after restart", &d).ok());
  ASSERT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  // A datagram of the earlier boot is a replay now, even one never received.
  EXPECT_EQ(b.open(sent[68], &from, &text), DatagramSealer::Verdict::kReplayed);
  // A copy of a2's data dir started elsewhere (or restored, within the same second) boots with
  // epoch 2 too: its datagrams use other nonces (another salt), and b keeps reading the boot it
  // heard first, so replays of the two cannot alternate.
  DatagramSealer copy(a_, 2, "c");
  copy.add_peer(id(b_), b_.public_key);
  ASSERT_NE(copy.boot_salt(), a2.boot_salt());
  ASSERT_TRUE(copy.seal(id(b_), "from the copy", &d).ok());
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kReplayed);
  ASSERT_TRUE(a2.seal(id(b_), "the original", &d).ok());
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
}

// A forged datagram is a forgery whatever counter it names, not a replay: the seal is checked
// before the window.
TEST_F(SealTest, AForgeryOfASeenCounterIsCountedAsAForgery) {
  DatagramSealer a(a_, 1, "c"), b(b_, 1, "c");
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  ASSERT_TRUE(a.seal(id(b_), "heartbeat", &d).ok());
  ASSERT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  std::string forged = d;
  forged.back() ^= 1;
  EXPECT_EQ(b.open(forged, &from, &text), DatagramSealer::Verdict::kAuthFailed);
  EXPECT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kReplayed);
}

// config delete then config add of the same key within one boot: the sender's counter to that
// peer goes on where it was (a reset reused every nonce it had sent), and the receiver still
// knows the datagrams it read before.
TEST_F(SealTest, ARemovedAndReAddedPeerNeverSeesACounterTwice) {
  DatagramSealer a(a_, 1, "c"), b(b_, 1, "c");
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  std::string d, text;
  std::uint64_t from = 0;
  std::vector<std::string> before(10);
  for (auto& x : before) ASSERT_TRUE(a.seal(id(b_), "m", &x).ok());
  for (auto& x : before) ASSERT_EQ(b.open(x, &from, &text), DatagramSealer::Verdict::kOk);
  a.remove_peer(id(b_));
  b.remove_peer(id(a_));
  EXPECT_FALSE(a.seal(id(b_), "m", &d).ok()) << "no key while removed";
  a.add_peer(id(b_), b_.public_key);
  b.add_peer(id(a_), a_.public_key);
  ASSERT_TRUE(a.seal(id(b_), "m", &d).ok());
  std::size_t pos = 2;
  std::uint64_t counter = 0;
  pos += 8;  // epoch 1 (one byte), then the salt
  ASSERT_TRUE(get_varint(d, &pos, &counter));
  EXPECT_EQ(counter, 11u) << "the counter went on";
  ASSERT_EQ(b.open(d, &from, &text), DatagramSealer::Verdict::kOk);
  EXPECT_EQ(b.open(before[9], &from, &text), DatagramSealer::Verdict::kReplayed);
}

// The epoch is the wall clock's seconds, or one more than the last boot's when the clock is behind
// it: it rises across restarts when the clock steps back, and when boot_epoch is restored from a
// backup or deleted.
TEST(BootEpoch, RisesAtEveryStartWhateverTheClockOrTheFileAndRefusesAGuess) {
  fednode::testing::TempDir dir;
  std::uint32_t e1 = 0, e2 = 0, e3 = 0, e4 = 0;
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e1, 1'000).ok());
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e2, 1'000).ok());
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e3, 900).ok());  // the clock stepped back
  EXPECT_EQ(e1, 1'000u);
  EXPECT_EQ(e2, 1'001u);
  EXPECT_EQ(e3, 1'002u);
  std::string backup;
  ASSERT_TRUE(read_file(dir.path() + "/boot_epoch", &backup).ok());
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e4, 5'000).ok());
  EXPECT_EQ(e4, 5'000u);
  ASSERT_TRUE(write_file_atomically(dir.path() + "/boot_epoch", backup).ok());  // restored
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e4, 5'060).ok());
  EXPECT_EQ(e4, 5'060u) << "a restored file does not take the epoch back";
  std::filesystem::remove(dir.path() + "/boot_epoch");
  ASSERT_TRUE(next_boot_epoch(dir.path(), &e4, 5'120).ok());
  EXPECT_EQ(e4, 5'120u);
  std::uint32_t now = 0;
  ASSERT_TRUE(next_boot_epoch(dir.path(), &now).ok());
  EXPECT_GT(now, 1'700'000'000u) << "the real clock's seconds";
  int fd = ::open((dir.path() + "/boot_epoch").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_EQ(::write(fd, "xx", 2), 2);
  ::close(fd);
  std::uint32_t e5 = 0;
  EXPECT_FALSE(next_boot_epoch(dir.path(), &e5).ok());
}

}  // namespace
}  // namespace fednode::crypto
