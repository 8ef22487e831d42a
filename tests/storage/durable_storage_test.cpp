#include "fednode/storage/durable_storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fednode/storage/crc32c.h"
#include "fednode/storage/raft_codec.h"
#include "fednode/storage/record_file.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace fednode::storage {
namespace {

namespace fs = std::filesystem;
using raft::Entry;
using raft::EntryType;

using test::entry;
using test::open_ok;
using test::range;

std::vector<Entry> all_entries(const DurableStorage& s) {
  if (s.last_index() < s.first_index()) return {};
  return s.entries(s.first_index(), s.last_index() + 1, SIZE_MAX);
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ".seg") out.push_back(f.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const std::string& path) {
  std::string bytes;
  EXPECT_TRUE(read_file(path, &bytes).ok());
  return bytes;
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c_portable("123456789"), 0xE3069283u);
}

TEST(Crc32c, TheCpuInstructionAgreesWithTheTableAtEveryLengthAndAlignment) {
  std::string bytes;
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 300; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    bytes.push_back(static_cast<char>(x));
  }
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t n = 0; start + n <= bytes.size(); n += 7) {
      std::string_view piece(bytes.data() + start, n);
      ASSERT_EQ(crc32c(piece), crc32c_portable(piece)) << "offset " << start << " length " << n;
      ASSERT_EQ(crc32c(piece, 0x12345678u), crc32c_portable(piece, 0x12345678u));
    }
  }
  // Chaining: the checksum of a whole is that of its second part seeded with the first's.
  std::string_view all(bytes);
  EXPECT_EQ(crc32c(all.substr(100), crc32c(all.substr(0, 100))), crc32c(all));
}

TEST(RaftCodec, RoundTripsAndRejectsGarbage) {
  Entry e{7, 42, EntryType::kConfChange, std::string("\0\1\2", 3)};
  EXPECT_EQ(decode_entry(encode_entry(e)), e);
  raft::HardState hs{3, 2, 99};
  EXPECT_EQ(decode_hard_state(encode_hard_state(hs)), hs);
  raft::ConfState conf;  // filled member by member: GCC 12 -O2 warns of nested vector braces here
  conf.voters = {1, 2, 3};
  conf.learners = {4};
  raft::Snapshot snap{{10, 3, conf}, "state"};
  EXPECT_EQ(decode_snapshot(encode_snapshot(snap)), snap);
  EXPECT_FALSE(decode_entry("garbage"));
  EXPECT_FALSE(decode_entry(encode_hard_state(hs)));       // wrong shape
  EXPECT_FALSE(decode_entry(encode_entry(e) + "x"));       // trailing bytes
  std::string bad_type = encode_entry(e);
  EXPECT_FALSE(decode_hard_state(""));
}

TEST(DurableStorage, EntriesHardStateAndSnapshotSurviveRestart) {
  testing::TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s->append(range(1, 50, 1)).ok());
    ASSERT_TRUE(s->set_hard_state({4, 2, 30}, true).ok());
    ASSERT_TRUE(s->create_snapshot(20, raft::ConfState{{1, 2, 3}, {}}, "sm@20").ok());
    ASSERT_TRUE(s->append(range(51, 60, 4)).ok());
  }
  auto s = open_ok(dir.path());
  EXPECT_EQ(s->first_index(), 21u);
  EXPECT_EQ(s->last_index(), 60u);
  EXPECT_EQ(s->hard_state(), (raft::HardState{4, 2, 30}));
  EXPECT_EQ(s->snapshot().meta.index, 20u);
  EXPECT_EQ(s->snapshot().data, "sm@20");
  EXPECT_EQ(s->snapshot().meta.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
  auto got = all_entries(*s);
  auto want = range(21, 50, 1);
  auto more = range(51, 60, 4);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(got, want);
}

TEST(DurableStorage, SegmentsRollAndCompactionDeletesCoveredOnes) {
  testing::TempDir dir;
  DurableOptions o;
  o.segment_bytes = 1024;
  auto s = open_ok(dir.path(), o);
  for (raft::Index i = 1; i <= 200; i += 10) ASSERT_TRUE(s->append(range(i, i + 9, 1, 40)).ok());
  auto before = segment_files(dir.path()).size();
  EXPECT_GT(before, 5u);
  ASSERT_TRUE(s->create_snapshot(150, {}, "x").ok());
  auto after = segment_files(dir.path()).size();
  EXPECT_LT(after, before);
  s.reset();
  s = open_ok(dir.path(), o);
  EXPECT_EQ(s->first_index(), 151u);
  EXPECT_EQ(all_entries(*s), range(151, 200, 1, 40));
}

TEST(DurableStorage, ConflictingSuffixIsTruncatedDurablyAcrossSegments) {
  testing::TempDir dir;
  DurableOptions o;
  o.segment_bytes = 512;
  {
    auto s = open_ok(dir.path(), o);
    for (raft::Index i = 1; i <= 100; i += 5) ASSERT_TRUE(s->append(range(i, i + 4, 1, 30)).ok());
    ASSERT_TRUE(s->append(range(37, 40, 2)).ok());  // a new leader's entries from index 37
  }
  auto s = open_ok(dir.path(), o);
  EXPECT_EQ(s->last_index(), 40u);
  auto want = range(1, 36, 1, 30);
  auto tail = range(37, 40, 2);
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(all_entries(*s), want);
  ASSERT_TRUE(s->append(range(41, 45, 2)).ok());
  s.reset();
  EXPECT_EQ(open_ok(dir.path(), o)->last_index(), 45u);
}

TEST(DurableStorage, AppliedSnapshotReplacesLog) {
  testing::TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s->append(range(1, 10, 1)).ok());
    raft::ConfState conf;
    conf.voters = {1};
    ASSERT_TRUE(s->apply_snapshot({{100, 7, conf}, "leader-state"}).ok());
    ASSERT_TRUE(s->append(range(101, 103, 7)).ok());
  }
  auto s = open_ok(dir.path());
  EXPECT_EQ(s->first_index(), 101u);
  EXPECT_EQ(s->last_index(), 103u);
  EXPECT_EQ(s->hard_state().commit, 100u);
  EXPECT_EQ(s->snapshot().data, "leader-state");
}

TEST(DurableStorage, AppendThatLeavesAGapIsRefused) {
  testing::TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s->append(range(1, 3, 1)).ok());
  Status st = s->append(range(5, 6, 1));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("does not follow"), std::string::npos);
}

// Crash test: for the last record, cut the segment at every byte offset. Recovery restores
// exactly the durable prefix (the earlier records), never a different entry.
TEST(DurableStorageCrash, TruncatedLastRecordAtEveryOffset) {
  testing::TempDir dir;
  std::string base = dir.sub("base");
  { ASSERT_TRUE(open_ok(base)->append(range(1, 5, 1)).ok()); }
  std::string seg = segment_files(base).at(0);
  std::string bytes = slurp(seg);
  std::string last = frame_record(encode_entry(entry(5, 1)));
  std::size_t start = bytes.size() - last.size();
  for (std::size_t cut = start; cut < bytes.size(); ++cut) {
    std::string d = dir.sub("cut" + std::to_string(cut));
    fs::copy(base, d);
    spit(segment_files(d).at(0), bytes.substr(0, cut));
    std::unique_ptr<DurableStorage> s;
    Status st = DurableStorage::open(d, {}, &s);
    ASSERT_TRUE(st.ok()) << "cut at " << cut << ": " << st.message();
    EXPECT_EQ(all_entries(*s), range(1, 4, 1)) << "cut at " << cut;
    EXPECT_EQ(s->stats().torn_tails_truncated, cut == start ? 0u : 1u);
    // The torn bytes are gone and the log takes appends again.
    ASSERT_TRUE(s->append(range(5, 5, 9)).ok());
    s.reset();
    EXPECT_EQ(all_entries(*open_ok(d)).back(), entry(5, 9));
  }
}

// Crash test: flip each byte of the last record in turn. Recovery either restores the durable
// prefix or refuses with an error naming the file; it never returns a different entry.
TEST(DurableStorageCrash, FlippedByteInLastRecordAtEveryOffset) {
  testing::TempDir dir;
  std::string base = dir.sub("base");
  { ASSERT_TRUE(open_ok(base)->append(range(1, 5, 1)).ok()); }
  std::string seg = segment_files(base).at(0);
  std::string bytes = slurp(seg);
  std::size_t start = bytes.size() - frame_record(encode_entry(entry(5, 1))).size();
  int refused = 0, truncated = 0;
  for (std::size_t at = start; at < bytes.size(); ++at) {
    std::string d = dir.sub("flip" + std::to_string(at));
    fs::copy(base, d);
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    std::string path = segment_files(d).at(0);
    spit(path, damaged);
    std::unique_ptr<DurableStorage> s;
    Status st = DurableStorage::open(d, {}, &s);
    if (!st.ok()) {
      ++refused;
      EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("offset"), std::string::npos) << st.message();
      continue;
    }
    ++truncated;
    EXPECT_EQ(all_entries(*s), range(1, 4, 1)) << "flip at " << at;
  }
  EXPECT_GT(truncated, 0);
  EXPECT_EQ(refused + truncated, static_cast<int>(bytes.size() - start));
}

TEST(DurableStorageCorruption, BadRecordInTheMiddleIsAnErrorNamingFileAndOffset) {
  testing::TempDir dir;
  { ASSERT_TRUE(open_ok(dir.path())->append(range(1, 5, 1)).ok()); }
  std::string seg = segment_files(dir.path()).at(0);
  std::string bytes = slurp(seg);
  std::size_t rec = frame_record(encode_entry(entry(1, 1))).size();
  bytes[rec + 10] ^= 1;  // inside record 2 of 5
  spit(seg, bytes);
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), {}, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(seg), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("offset " + std::to_string(rec)), std::string::npos) << st.message();
  EXPECT_EQ(slurp(seg), bytes) << "recovery must not touch a corrupt log";
}

TEST(DurableStorageCorruption, TornTailInAnEarlierSegmentIsAnError) {
  testing::TempDir dir;
  DurableOptions o;
  o.segment_bytes = 100;
  { auto s = open_ok(dir.path(), o); for (raft::Index i = 1; i <= 6; ++i) ASSERT_TRUE(s->append({entry(i, 1, 60)}).ok()); }
  auto segs = segment_files(dir.path());
  ASSERT_GE(segs.size(), 3u);
  std::string bytes = slurp(segs[0]);
  spit(segs[0], bytes.substr(0, bytes.size() - 3));
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), o, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(segs[0]), std::string::npos) << st.message();
}

TEST(DurableStorageCorruption, MissingSegmentIsAnError) {
  testing::TempDir dir;
  DurableOptions o;
  o.segment_bytes = 100;
  { auto s = open_ok(dir.path(), o); for (raft::Index i = 1; i <= 6; ++i) ASSERT_TRUE(s->append({entry(i, 1, 60)}).ok()); }
  auto segs = segment_files(dir.path());
  ASSERT_GE(segs.size(), 3u);
  fs::remove(segs[1]);
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), o, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing segment"), std::string::npos) << st.message();
}

TEST(DurableStorageCorruption, BadSnapshotChecksumIsAnError) {
  testing::TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s->append(range(1, 5, 1)).ok());
    ASSERT_TRUE(s->create_snapshot(3, {}, "state").ok());
  }
  std::string path = dir.sub("snapshot");
  std::string bytes = slurp(path);
  bytes.back() ^= 1;
  spit(path, bytes);
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), {}, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
}

TEST(DurableStorageCorruption, BadHardStateIsAnError) {
  testing::TempDir dir;
  { ASSERT_TRUE(open_ok(dir.path())->set_hard_state({1, 1, 0}, true).ok()); }
  std::string path = dir.sub("hardstate");
  spit(path, slurp(path).substr(0, 5));
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), {}, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hardstate"), std::string::npos) << st.message();
}

TEST(DurableStorageCorruption, CommitBeyondTheLogIsAnError) {
  testing::TempDir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s->append(range(1, 5, 1)).ok());
    ASSERT_TRUE(s->set_hard_state({1, 0, 5}, true).ok());
  }
  fs::remove(segment_files(dir.path()).at(0));
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir.path(), {}, &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("beyond the last log entry"), std::string::npos) << st.message();
}

TEST(DurableStorage, LeftoverTempFilesAreRemoved) {
  testing::TempDir dir;
  spit(dir.sub("hardstate.tmp"), "half-written");
  auto s = open_ok(dir.path());
  EXPECT_FALSE(fs::exists(dir.sub("hardstate.tmp")));
}

}  // namespace
}  // namespace fednode::storage
