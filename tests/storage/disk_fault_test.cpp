// The log on a failing disk (storage/file_ops.h): a write that fails leaves nothing of itself
// behind, a failed fdatasync breaks the storage for good, and reopening recovers what is durable.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>

#include "fednode/storage/background_sync.h"
#include "fednode/storage/durable_storage.h"
#include "fednode/storage/file_ops.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace fednode::storage {
namespace {

using fednode::testing::TempDir;
using test::open_ok;
using test::range;

// POSIX, except that the next write or fdatasync fails with the errno set, once (a write may
// first get `partial` bytes through, as a filling disk does).
class FaultyOps : public FileOps {
 public:
  int write_errno = 0, sync_errno = 0;
  std::size_t partial = 0;
  int syncs = 0;
  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (write_errno != 0) {
      if (partial > 0 && partial < size) {
        ssize_t n = posix_file_ops().write(fd, data, partial);
        partial = 0;
        return n;
      }
      errno = write_errno;
      write_errno = 0;
      return -1;
    }
    return posix_file_ops().write(fd, data, size);
  }
  int fdatasync(int fd) override {
    ++syncs;
    if (sync_errno != 0) {
      errno = sync_errno;
      sync_errno = 0;
      return -1;
    }
    return posix_file_ops().fdatasync(fd);
  }
  int ftruncate(int fd, off_t size) override { return posix_file_ops().ftruncate(fd, size); }
};

std::unique_ptr<DurableStorage> open_on(const TempDir& dir, FaultyOps& ops) {
  DurableOptions o;
  o.file_ops = &ops;
  return open_ok(dir.path(), o);
}

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::string only_segment(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") return e.path().string();
  }
  return "";
}

TEST(DiskFaults, AWriteThatFillsTheDiskLeavesNothingOfItselfAndTheNextOneWorks) {
  TempDir dir;
  FaultyOps ops;
  auto s = open_on(dir, ops);
  ASSERT_TRUE(s->append(range(1, 5, 1)).ok());
  std::string seg = only_segment(dir.path());
  std::uint64_t before = file_size(seg);
  ops.write_errno = ENOSPC;
  ops.partial = 30;  // part of the batch lands before the disk is full
  Status st = s->append(range(6, 9, 1, 200));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot write 4 entries at index 6 to " + seg + ": No space left on device"), std::string::npos)
      << st.message();
  EXPECT_EQ(file_size(seg), before);  // cut back: no torn record
  EXPECT_EQ(s->last_index(), 5u);
  EXPECT_TRUE(s->broken().empty());
  ASSERT_TRUE(s->append(range(6, 7, 1)).ok()) << "space came back";
  s.reset();
  auto again = open_ok(dir.path());
  EXPECT_EQ(again->last_index(), 7u);
  EXPECT_EQ(again->stats().torn_tails_truncated, 0u);
}

TEST(DiskFaults, AFailedFdatasyncBreaksTheLogForGoodAndARestartRecoversWhatIsDurable) {
  TempDir dir;
  FaultyOps ops;
  auto s = open_on(dir, ops);
  ASSERT_TRUE(s->append(range(1, 5, 1)).ok());
  ops.sync_errno = EIO;
  Status st = s->append(range(6, 8, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot fdatasync"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("takes no more writes"), std::string::npos) << st.message();
  // The next fdatasync would succeed, and must not be asked: every write is refused.
  int syncs = ops.syncs;
  raft::Ready rd;
  rd.entries = range(9, 9, 1);
  EXPECT_EQ(s->save(rd).message(), st.message());
  EXPECT_EQ(s->set_hard_state({2, 1, 5}, true).message(), st.message());
  EXPECT_FALSE(s->create_snapshot(5, {{1}, {}}, "state").ok());
  EXPECT_EQ(ops.syncs, syncs);
  s.reset();
  auto again = open_ok(dir.path());
  EXPECT_GE(again->last_index(), 5u);  // 6-8 were written, never known durable: either way is sound
  EXPECT_LE(again->last_index(), 8u);
  ASSERT_TRUE(again->append(range(again->last_index() + 1, again->last_index() + 1, 1)).ok());
}

TEST(DiskFaults, AnIoErrorOnWriteIsCutBackAndReported) {
  TempDir dir;
  FaultyOps ops;
  auto s = open_on(dir, ops);
  ASSERT_TRUE(s->append(range(1, 3, 1)).ok());
  ops.write_errno = EIO;
  Status st = s->append(range(4, 4, 1));
  EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.message();
  EXPECT_EQ(s->last_index(), 3u);
}

// The background thread's descriptor duplicates the log's, and Linux reports a writeback error
// once per open file: after the thread's fdatasync failed, the log's own succeeds. The log must
// refuse writes all the same, before the failure's report reaches the control loop.
TEST(DiskFaults, ABackgroundSyncFailureBreaksTheStorageBeforeItIsReported) {
  TempDir dir;
  FaultyOps ops;
  ops.sync_errno = EIO;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SyncReport> reports;
  {
    BackgroundSync sync(
        [&](const SyncReport& r) {
          std::lock_guard<std::mutex> lock(mu);
          reports.push_back(r);
          cv.notify_all();
        },
        &ops);
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s->append(range(1, 2, 1)).ok());
    raft::Ready rd;
    rd.entries = range(3, 5, 1);
    SyncJob job;
    ASSERT_TRUE(s->save_async(rd, &job).ok());
    ASSERT_GE(job.fd, 0);
    sync.submit(std::move(job));
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !reports.empty(); }));
    ASSERT_NE(reports[0].error.find("Input/output error"), std::string::npos) << reports[0].error;
    raft::Ready more;  // one entry: saved and synced here, where fdatasync now succeeds
    more.entries = range(6, 6, 1);
    Status st = s->save(more);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.message();
    EXPECT_NE(s->broken().find("takes no more writes"), std::string::npos);
    EXPECT_EQ(s->last_index(), 5u);
  }
}

}  // namespace
}  // namespace fednode::storage
