#include "fednode/net/peer_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "fednode/raft/storage.h"

namespace fednode::net {
namespace {

raft::Message sample() {
  raft::Message m;
  m.type = raft::MessageType::kSnapshotChunk;
  m.from = 0xdeadbeefcafeull;
  m.to = 7;
  m.term = 12;
  m.index = 1000;
  m.log_term = 11;
  m.commit = 999;
  m.reject = true;
  m.reject_hint = 998;
  m.context = 5;
  m.entries = {raft::Entry{12, 1001, raft::EntryType::kNormal, "a"},
               raft::Entry{12, 1002, raft::EntryType::kConfChange, std::string("\0\1", 2)}};
  m.snapshot = raft::SnapshotMeta{900, 10, {{1, 2, 3}, {4}}};
  m.offset = 4096;
  m.data = std::string(100, 'z');
  m.done = true;
  return m;
}

TEST(PeerCodec, RoundTripsEveryField) {
  raft::Message back;
  Status s = decode_peer_message(encode_peer_message("c1", sample()), "c1", &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, sample());
  for (int t = 0; t < raft::kMessageTypeCount; ++t) {
    raft::Message m;
    m.type = static_cast<raft::MessageType>(t);
    m.from = 1;
    ASSERT_TRUE(decode_peer_message(encode_peer_message("c", m), "c", &back).ok());
    EXPECT_EQ(back, m);
  }
}

TEST(PeerCodec, RejectsOtherClustersVersionsAndTypes) {
  raft::Message back;
  Status s = decode_peer_message(encode_peer_message("other", sample()), "mine", &back);
  EXPECT_NE(s.message().find("wrong cluster 'other'"), std::string::npos) << s.message();
  std::string bytes = encode_peer_message("c", sample());
  ASSERT_EQ(static_cast<unsigned char>(bytes[0]), 0xdc);  // array16 header: 3 bytes
  bytes[3] = 2;                                          // version, a positive fixint
  EXPECT_NE(decode_peer_message(bytes, "c", &back).message().find("version"), std::string::npos);
  raft::Message m = sample();
  m.type = static_cast<raft::MessageType>(99);
  EXPECT_NE(decode_peer_message(encode_peer_message("c", m), "c", &back).message().find("type 99"), std::string::npos);
  m = sample();
  m.from = 0;
  EXPECT_NE(decode_peer_message(encode_peer_message("c", m), "c", &back).message().find("from"), std::string::npos);
  EXPECT_FALSE(decode_peer_message("", "c", &back).ok());
  EXPECT_FALSE(decode_peer_message("\xc1", "c", &back).ok());  // never-used msgpack byte
  EXPECT_FALSE(decode_peer_message("hello", "c", &back).ok());
}

// Every truncation and thousands of random corruptions either decode or give an error; none
// crashes (run under ASan/UBSan with -DFEDNODE_SANITIZE=ON).
TEST(PeerCodec, SurvivesTruncationAndCorruption) {
  std::string bytes = encode_peer_message("c", sample());
  raft::Message back;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_peer_message(bytes.substr(0, n), "c", &back).ok()) << n;
  }
  std::mt19937_64 rng(1);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string damaged = bytes;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    ok += decode_peer_message(damaged, "c", &back).ok();
  }
  EXPECT_LT(ok, 20000);
}

// An append cut to the core's byte budget fits the datagram bound it was derived from.
TEST(PeerCodec, BudgetedAppendFitsTheDatagram) {
  const std::size_t max_datagram = 1400, budget = max_datagram - 512;
  for (std::size_t payload : {0u, 1u, 10u, 100u, 700u}) {
    raft::Message m;
    m.type = raft::MessageType::kAppend;
    m.from = ~0ull;
    m.to = ~0ull;
    m.term = m.index = m.log_term = m.commit = ~0ull;
    std::size_t bytes = 0;
    for (raft::Index i = 0;; ++i) {
      raft::Entry e{~0ull, ~0ull - i, raft::EntryType::kNormal, std::string(payload, 'x')};
      if (!m.entries.empty() && bytes + raft::entry_size(e) > budget) break;
      bytes += raft::entry_size(e);
      m.entries.push_back(e);
    }
    EXPECT_LE(encode_peer_message("fednode-cluster", m).size(), max_datagram) << payload;
  }
}

}  // namespace
}  // namespace fednode::net

namespace fednode::net {
namespace {

// Headers are not believed: nesting and announced sizes are bounded by the datagram itself, so a
// hostile datagram costs no more than its bytes to refuse.
TEST(PeerCodecLimits, DeeplyNestedArraysAreRefused) {
  std::string nested(64 * 1024 - 1, '\x91');  // [[[[...nil]]]]: complete, 65,535 levels deep
  nested += '\xc0';
  raft::Message m;
  Status s = decode_peer_message(nested, "fednode", &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("depth"), std::string::npos) << s.message();
}

TEST(PeerCodecLimits, AnnouncedHugeContainersAllocateNothing) {
  raft::Message m;
  // (A bin or str header is checked against the bytes present by msgpack-c itself.)
  for (std::string datagram : {std::string("\xdd\xff\xff\xff\xff", 5), std::string("\xdf\xff\xff\xff\xff", 5),
                               std::string("\x92\x01\xdd\x10\x00\x00\x00", 7)}) {
    Status s = decode_peer_message(datagram, "fednode", &m);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("size overflow"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace fednode::net
