// A leader's background log writes: DurableStorage::save_async takes only plain appends at the
// tail, and BackgroundSync reports them durable, the newest of a batch covering the others.
#include "fednode/storage/background_sync.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "fednode/storage/durable_storage.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace fednode::storage {
namespace {

using test::entry;
using test::open_ok;

raft::Ready ready_with(raft::Index lo, raft::Index hi, raft::Term t) {
  raft::Ready rd;
  rd.entries = test::range(lo, hi, t);
  return rd;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(SaveAsync, APlainAppendIsWrittenAndItsSegmentHandedOver) {
  testing::TempDir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s->append({entry(1, 1), entry(2, 1)}).ok());
  ASSERT_TRUE(s->set_hard_state({1, 1, 2}, true).ok());
  raft::Ready rd = ready_with(3, 5, 1);
  rd.hard_state = raft::HardState{1, 1, 3};  // the commit alone: not written now
  SyncJob job;
  ASSERT_TRUE(s->save_async(rd, &job).ok());
  ASSERT_GE(job.fd, 0);
  EXPECT_NE(job.path.find(".seg"), std::string::npos) << job.path;
  EXPECT_EQ(job.index, 5u);
  EXPECT_EQ(job.term, 1u);
  EXPECT_EQ(s->last_index(), 5u);  // readable at once
  EXPECT_EQ(s->hard_state().commit, 3u);
  EXPECT_EQ(::fdatasync(job.fd), 0);
  ::close(job.fd);
  // A synchronous save after a background write syncs that write first (it may truncate the
  // segment or move to a new one): two fdatasyncs, where one follows a synchronous save.
  auto syncs = s->stats().syncs;
  ASSERT_TRUE(s->save(ready_with(6, 6, 1)).ok());
  EXPECT_EQ(s->stats().syncs, syncs + 2);
  ASSERT_TRUE(s->save(ready_with(7, 7, 1)).ok());
  EXPECT_EQ(s->stats().syncs, syncs + 3);
  s.reset();
  EXPECT_EQ(open_ok(dir.path())->last_index(), 7u);
}

TEST(SaveAsync, AnythingButAPlainAppendIsSavedAtOnce) {
  testing::TempDir dir;
  DurableOptions o;
  o.segment_bytes = 256;
  o.commit_persist_every = 4;
  auto s = open_ok(dir.path(), o);
  ASSERT_TRUE(s->append({entry(1, 1), entry(2, 1), entry(3, 1)}).ok());
  ASSERT_TRUE(s->set_hard_state({1, 1, 1}, true).ok());
  auto synced_now = [&](const raft::Ready& rd) {
    SyncJob job;
    EXPECT_TRUE(s->save_async(rd, &job).ok());
    if (job.fd >= 0) ::close(job.fd);
    return job.fd < 0;
  };
  EXPECT_TRUE(synced_now(ready_with(3, 4, 2))) << "a conflicting suffix is truncated";
  raft::Ready vote = ready_with(5, 5, 2);
  vote.hard_state = raft::HardState{2, 1, 1};
  EXPECT_TRUE(synced_now(vote)) << "a new term is written before anything depends on it";
  raft::Ready commit = ready_with(6, 6, 2);
  commit.hard_state = raft::HardState{2, 1, 5};
  EXPECT_TRUE(synced_now(commit)) << "a commit index due to be recorded";
  EXPECT_FALSE(synced_now(ready_with(7, 7, 2)));
  raft::Index next = 8;
  bool rolled = false;
  for (int i = 0; i < 40 && !rolled; ++i, ++next) rolled = synced_now(ready_with(next, next, 2));
  EXPECT_TRUE(rolled) << "a full segment rolls to a new one";
  EXPECT_EQ(s->last_index(), next - 1);
  s.reset();
  EXPECT_EQ(open_ok(dir.path(), o)->last_index(), next - 1);
}

TEST(BackgroundSync, ReportsInOrderAndSyncsWhatIsQueuedWhenStopped) {
  testing::TempDir dir;
  std::string path = dir.sub("f");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::mutex mu;
  std::vector<SyncReport> reports;
  std::vector<int> dups;
  {
    BackgroundSync sync([&](const SyncReport& r) {
      std::lock_guard<std::mutex> lock(mu);
      reports.push_back(r);
    });
    for (raft::Index i = 1; i <= 50; ++i) {
      ASSERT_EQ(::write(fd, "x", 1), 1);
      int d = ::dup(fd);
      dups.push_back(d);
      sync.submit({d, path, i, 3, nullptr});
    }
  }
  ASSERT_FALSE(reports.empty());
  EXPECT_LE(reports.size(), 50u);
  for (std::size_t k = 0; k < reports.size(); ++k) {
    EXPECT_TRUE(reports[k].error.empty()) << reports[k].error;
    if (k > 0) {
      EXPECT_GT(reports[k].index, reports[k - 1].index);
    }
  }
  EXPECT_EQ(reports.back().index, 50u);
  EXPECT_EQ(reports.back().term, 3u);
  for (int d : dups) EXPECT_FALSE(is_open(d)) << "descriptor " << d << " left open";
  ::close(fd);
}

TEST(BackgroundSync, AFailedSyncIsReportedNamingTheFile) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SyncReport> reports;
  BackgroundSync sync([&](const SyncReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    reports.push_back(r);
    cv.notify_all();
  });
  sync.submit({::open("/dev/null", O_RDONLY), "/the/segment.seg", 7, 1, nullptr});
  sync.submit({-1, "/the/segment.seg", 8, 1, nullptr});
  std::unique_lock<std::mutex> lock(mu);
  auto both_reported = [&] { return !reports.empty() && reports.back().index == 8; };
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), both_reported));
  EXPECT_NE(reports.back().error.find("/the/segment.seg"), std::string::npos) << reports.back().error;
}

}  // namespace
}  // namespace fednode::storage
