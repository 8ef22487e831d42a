#include "fednode/net/peer_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "fednode/net/datagram_budget.h"
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

const PeerEncoding kEncodings[] = {PeerEncoding::kV1, PeerEncoding::kCompact, PeerEncoding::kCompactSealed,
                                   PeerEncoding::kPacked};

// What the receiver's seal would establish for `m` (nothing, unsealed).
SealedOrigin origin(PeerEncoding e, const raft::Message& m) {
  return e == PeerEncoding::kCompactSealed || e == PeerEncoding::kPacked ? SealedOrigin{m.from, m.to} : SealedOrigin{};
}

// Decodes `bytes` as the receiver of a datagram in encoding `e` does.
Status decode_as(PeerEncoding e, std::string_view bytes, raft::Message* back, const SealedOrigin& o,
                 std::uint8_t* version = nullptr) {
  if (e != PeerEncoding::kPacked) return decode_peer_message(bytes, "c1", back, o, version);
  if (version) *version = kPeerProtocolPacked;
  return decode_packed_peer_message(bytes, o, back);
}

Status round_trip(PeerEncoding e, const raft::Message& m, raft::Message* back, std::uint8_t* version = nullptr) {
  return decode_as(e, encode_peer_message("c1", m, e), back, origin(e, m), version);
}

TEST(PeerCodec, RoundTripsEveryFieldInEveryEncoding) {
  for (PeerEncoding e : kEncodings) {
    SCOPED_TRACE(static_cast<int>(e));
    raft::Message back;
    std::uint8_t version = 0;
    Status s = round_trip(e, sample(), &back, &version);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(back, sample());
    if (e != PeerEncoding::kPacked) {
      EXPECT_EQ(version, e == PeerEncoding::kV1 ? kPeerProtocolV1 : kPeerProtocolCompact);
    }
    for (int t = 0; t < raft::kMessageTypeCount; ++t) {
      raft::Message m;
      m.type = static_cast<raft::MessageType>(t);
      m.from = 1;
      m.to = 2;
      ASSERT_TRUE(round_trip(e, m, &back).ok());
      EXPECT_EQ(back, m);
    }
  }
  // Random messages: every field present or not, flags either way.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    raft::Message m;
    auto maybe = [&](std::uint64_t v) { return rng() % 2 ? v : 0; };
    m.type = static_cast<raft::MessageType>(rng() % raft::kMessageTypeCount);
    m.from = 1 + rng() % 1000;
    m.to = 1 + rng() % 1000;
    m.term = maybe(rng() >> (rng() % 64));
    m.commit = maybe(rng() % 100000);
    m.index = maybe(rng() % 100000);
    m.log_term = maybe(rng() % 9);
    m.reject = rng() % 2;
    m.reject_hint = maybe(rng() % 77);
    m.context = maybe(rng());
    for (std::uint64_t k = 0, n = rng() % 3; k < n; ++k) {
      m.entries.push_back(raft::Entry{rng() % 5, m.index + 1 + k, static_cast<raft::EntryType>(rng() % 2), std::string(rng() % 5, 'e')});
    }
    if (rng() % 4 == 0) m.snapshot = raft::SnapshotMeta{rng() % 50, rng() % 5, {{1, 2}, {}}};
    m.offset = maybe(rng() % 4096);
    m.data = std::string(maybe(rng() % 9), 'd');
    m.done = rng() % 2;
    for (PeerEncoding e : kEncodings) {
      raft::Message back;
      Status s = round_trip(e, m, &back);
      ASSERT_TRUE(s.ok()) << i << ": " << s.message();
      ASSERT_EQ(back, m) << i << " in encoding " << static_cast<int>(e);
    }
  }
}

// Nothing the receiver can derive: a sealed heartbeat is its type, term and commit index.
TEST(PeerCodec, CompactMessagesCarryOnlyWhatTheReceiverCannotDerive) {
  raft::Message hb;
  hb.type = raft::MessageType::kHeartbeat;
  hb.from = 0xdeadbeefcafef00dull;
  hb.to = 0x0123456789abcdefull;
  hb.term = 7;
  hb.commit = 1234;
  EXPECT_LE(encode_peer_message("fednode", hb, PeerEncoding::kCompactSealed).size(), 8u);
  EXPECT_EQ(encode_peer_message("fednode", hb, PeerEncoding::kPacked).size(), 4u);  // type+mask, 7, 1234
  EXPECT_GE(encode_peer_message("fednode", hb, PeerEncoding::kV1).size(), 50u);
  raft::Message answer;
  answer.type = raft::MessageType::kHeartbeatResponse;
  answer.from = hb.to;
  answer.to = hb.from;
  answer.term = 7;
  EXPECT_EQ(encode_peer_message("fednode", answer, PeerEncoding::kCompactSealed).size(), 5u);
  EXPECT_EQ(encode_peer_message("fednode", answer, PeerEncoding::kPacked).size(), 2u);
  // An append's entries do not repeat their indexes.
  raft::Message app;
  app.type = raft::MessageType::kAppend;
  app.from = 1;
  app.term = 7;
  app.index = 100000;
  app.log_term = 7;
  app.commit = 99999;
  for (raft::Index i = 1; i <= 10; ++i) app.entries.push_back(raft::Entry{7, app.index + i, raft::EntryType::kNormal, "x"});
  EXPECT_LT(encode_peer_message("c", app, PeerEncoding::kCompactSealed).size() + 40,
            encode_peer_message("c", app, PeerEncoding::kV1).size());
  // Packed: type and mask 2, term 1, index 3, log_term 1, commit 3, count 1, and 4 bytes per
  // entry of one byte (term, type, length, the byte); compact takes 6 per entry, 78 in all.
  EXPECT_EQ(encode_peer_message("c", app, PeerEncoding::kPacked).size(), 51u);
  EXPECT_EQ(encode_peer_message("c", app, PeerEncoding::kCompactSealed).size(), 78u);
}

TEST(PeerCodec, RejectsOtherClustersVersionsAndTypes) {
  raft::Message back;
  for (PeerEncoding e : {PeerEncoding::kV1, PeerEncoding::kCompact}) {
    Status s = decode_peer_message(encode_peer_message("other", sample(), e), "mine", &back);
    EXPECT_NE(s.message().find("wrong cluster 'other'"), std::string::npos) << s.message();
    raft::Message m = sample();
    m.type = static_cast<raft::MessageType>(99);
    EXPECT_NE(decode_peer_message(encode_peer_message("c", m, e), "c", &back).message().find("type 99"), std::string::npos);
    m = sample();
    m.from = 0;
    EXPECT_NE(decode_peer_message(encode_peer_message("c", m, e), "c", &back).message().find("from"), std::string::npos);
  }
  std::string bytes = encode_peer_message("c", sample(), PeerEncoding::kV1);
  ASSERT_EQ(static_cast<unsigned char>(bytes[0]), 0xdc);  // array16 header: 3 bytes
  bytes[3] = 3;                                          // version, a positive fixint
  EXPECT_NE(decode_peer_message(bytes, "c", &back).message().find("version"), std::string::npos);
  EXPECT_FALSE(decode_peer_message("", "c", &back).ok());
  EXPECT_FALSE(decode_peer_message("\xc1", "c", &back).ok());  // never-used msgpack byte
  EXPECT_FALSE(decode_peer_message("hello", "c", &back).ok());
}

// A compact body's mask must match its values; outside a seal it must name sender and cluster;
// inside one it may not name another sender than the seal's.
TEST(PeerCodec, CompactBodiesAreCheckedAgainstTheirMaskAndSeal) {
  raft::Message back;
  auto expect_error = [&](const std::string& bytes, const std::string& words, const SealedOrigin& o = {}) {
    Status s = decode_peer_message(bytes, "c", &back, o);
    ASSERT_FALSE(s.ok()) << words;
    EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
  };
  // [2, heartbeat, mask, ...] by hand.
  const char hb = static_cast<char>(raft::MessageType::kHeartbeat);
  expect_error(std::string("\x94\x02") + hb + "\x03\x07", "announces 2 values, the array holds 1", {5, 6});
  expect_error(std::string("\x93\x02") + hb + std::string("\xcd\x80\x00", 3), "unknown fields", {5, 6});
  expect_error(std::string("\x95\x02") + hb + "\x03\x07\xa1x", "field commit", {5, 6});
  expect_error(std::string("\x92\x02") + hb, "at least 3 fields", {5, 6});
  raft::Message m = sample();
  expect_error(encode_peer_message("c", m, PeerEncoding::kCompactSealed), "must name its sender");
  m.from = 9;
  expect_error(encode_peer_message("c", m, PeerEncoding::kCompact), "another sender", {5, 6});
  // Inside a seal, a body that does name sender and cluster must name the right ones.
  m.from = 5;
  ASSERT_TRUE(decode_peer_message(encode_peer_message("c", m, PeerEncoding::kCompact), "c", &back, {5, 6}).ok());
  expect_error(encode_peer_message("other", m, PeerEncoding::kCompact), "wrong cluster", {5, 6});
}

// A packed body is read only inside a seal, and every count and length is checked against what
// is left of it before anything is allocated.
TEST(PeerCodec, PackedBodiesAreCheckedFieldByField) {
  raft::Message back;
  auto expect_error = [&](const std::string& bytes, const std::string& words, const SealedOrigin& o = {5, 6}) {
    Status s = decode_packed_peer_message(bytes, o, &back);
    ASSERT_FALSE(s.ok()) << words;
    EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
  };
  auto head = [](raft::MessageType t, std::uint32_t mask) {
    std::string h;
    std::uint64_t v = static_cast<std::uint64_t>(t) | std::uint64_t{mask} << 4;
    while (v >= 0x80) h.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
    h.push_back(static_cast<char>(v));
    return h;
  };
  auto bytes = [](std::initializer_list<unsigned char> b) { return std::string(b.begin(), b.end()); };
  using T = raft::MessageType;
  ASSERT_TRUE(decode_packed_peer_message(head(T::kHeartbeat, 3) + bytes({7, 5}), {5, 6}, &back).ok());
  EXPECT_EQ(back.commit, 5u);
  EXPECT_EQ(back.from, 5u);
  EXPECT_EQ(back.to, 6u);
  expect_error(head(T::kHeartbeat, 3) + bytes({7, 5}), "outside a sealed datagram", SealedOrigin{});
  expect_error(head(T::kHeartbeat, 3) + bytes({7}), "field commit");
  expect_error(head(T::kHeartbeat, 3) + bytes({7, 5, 0}), "1 trailing bytes");
  expect_error(head(T::kHeartbeat, 3) + bytes({7, 0x85, 0}), "field commit");  // not the shortest form
  expect_error(bytes({0x0f}), "type 15");
  expect_error(head(T::kHeartbeat, 1u << 12), "does not carry");  // from: the seal's
  expect_error(head(T::kHeartbeat, 1u << 15), "does not carry");
  // entries (bit 7): a count larger than the body, an empty list, a length past the end.
  expect_error(head(T::kAppend, 1u << 7) + bytes({0x7f, 1, 0, 0}), "counts 127");
  expect_error(head(T::kAppend, 1u << 7) + bytes({0}), "present but empty");
  expect_error(head(T::kAppend, 1u << 7) + bytes({1, 1, 0, 9, 'x', 'x'}), "announces 9 bytes, 2 are left");
  expect_error(head(T::kAppend, 1u << 7) + bytes({1, 1, 2, 0}), "entry.type 2");
  // snapshot (bit 8): voters counted past the end.
  expect_error(head(T::kSnapshotChunk, 1u << 8) + bytes({1, 1, 5, 1}), "snapshot.voters");
  // data (bit 10): a length near 2^64.
  expect_error(head(T::kSnapshotChunk, 1u << 10) + bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}),
               "field data announces");
}

// Every truncation and thousands of random corruptions either decode or give an error; none
// crashes (run under ASan/UBSan with -DFEDNODE_SANITIZE=ON).
TEST(PeerCodec, SurvivesTruncationAndCorruption) {
  for (PeerEncoding e : kEncodings) {
    std::string bytes = encode_peer_message("c1", sample(), e);
    SealedOrigin o = origin(e, sample());
    raft::Message back;
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(decode_as(e, bytes.substr(0, n), &back, o).ok()) << n;
    }
    std::mt19937_64 rng(1);
    int ok = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string damaged = bytes;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
      ok += decode_as(e, damaged, &back, o).ok();
    }
    EXPECT_LT(ok, 20000);
  }
}

// An append cut to the core's byte budget fits the datagram bound it was derived from.
TEST(PeerCodec, BudgetedAppendFitsTheDatagram) {
  const std::size_t max_datagram = 1400, budget = max_datagram - 512;
  for (PeerEncoding e : kEncodings) {
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
      EXPECT_LE(encode_peer_message("fednode-cluster", m, e).size(), max_datagram) << payload;
    }
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

namespace fednode::net {
namespace {

// A message Raft fills to the payload budget of the default datagram target fits it, encoded in
// every encoding and sealed (the salted seal adds at most 1 + 5 + 8 + 10 header bytes and a
// 16-byte tag): an append of one big entry or of many empty ones (Raft counts 32 bytes an entry),
// and a snapshot chunk of a group of 5 voters and 32 learners, with large ids and terms.
TEST(DatagramBudget, MessagesFilledToTheBudgetFitTheDefaultTarget) {
  constexpr std::size_t kSealMax = 1 + 5 + 8 + 10 + 16;
  const std::size_t budget = raft_payload_budget(kDefaultDatagramTarget);
  ASSERT_GE(budget, 900u) << "a budget this small would cut appends too fine";
  raft::Message base;
  base.from = 0xfedcba9876543210ull;
  base.to = 0x0123456789abcdefull;
  base.term = 1ull << 40;
  base.index = 1ull << 50;
  base.log_term = 1ull << 40;
  base.commit = 1ull << 50;
  std::vector<raft::Message> filled;
  raft::Message one_big = base;
  one_big.type = raft::MessageType::kAppend;
  one_big.entries = {raft::Entry{1ull << 40, (1ull << 50) + 1, raft::EntryType::kNormal, std::string(budget - 32, 'x')}};
  filled.push_back(one_big);
  raft::Message many_empty = base;
  many_empty.type = raft::MessageType::kAppend;
  for (std::size_t i = 0; i < budget / raft::entry_size(raft::Entry{}); ++i) {
    many_empty.entries.push_back(raft::Entry{1ull << 40, (1ull << 50) + 1 + i, raft::EntryType::kNormal, ""});
  }
  filled.push_back(many_empty);
  raft::Message chunk = base;
  chunk.type = raft::MessageType::kSnapshotChunk;
  chunk.snapshot.index = 1ull << 50;
  chunk.snapshot.term = 1ull << 40;
  for (std::uint64_t i = 0; i < 5; ++i) chunk.snapshot.conf.voters.push_back(0xff00000000000000ull + i);
  for (std::uint64_t i = 0; i < 32; ++i) chunk.snapshot.conf.learners.push_back(0xee00000000000000ull + i);
  chunk.offset = 1ull << 40;
  chunk.data = std::string(budget, 'z');
  filled.push_back(chunk);
  for (const auto& m : filled) {
    for (PeerEncoding e : kEncodings) {
      std::size_t size = encode_peer_message("a-cluster-id", m, e).size() + kSealMax;
      EXPECT_LE(size, kDefaultDatagramTarget) << raft::message_type_name(m.type) << " with " << m.entries.size()
                                              << " entries in encoding " << static_cast<int>(e);
    }
  }
}

}  // namespace
}  // namespace fednode::net
