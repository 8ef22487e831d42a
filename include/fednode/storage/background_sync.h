#pragma once
// BackgroundSync: the thread that makes a leader's log writes durable while its control loop goes
// on (raft::Config::async_leader_persist). The loop writes the entries to the segment file and
// hands over a duplicate of the file's descriptor with the last index and term written; the
// thread runs fdatasync and reports. Writes waiting while one fdatasync runs share the next one
// (group commit): the newest of them is reported, which covers the others (a later sync of a
// file covers everything written to it before; an older file was synced when the log moved on
// from it). Reports come on the thread, in order; the report callback must hand them to the loop.
// The destructor syncs what is still queued, so a peer that stops leaves its log durable.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fednode/raft/types.h"
#include "fednode/storage/file_ops.h"

namespace fednode::storage {

// A failed fdatasync is reported once per open file, and the background thread's descriptor is a
// duplicate of the log's: once the thread has seen the error, the log's own fdatasync succeeds.
// So both sync under this lock, and a failure is recorded here before it is released: a sync
// on either side that comes after a failed one sees it.
struct SyncFailure {
  std::mutex mu;
  std::atomic<bool> failed{false};
  std::string error;  // under mu
};

struct SyncJob {
  int fd = -1;  // owned: closed by the thread
  std::string path;
  raft::Index index = 0;
  raft::Term term = 0;
  std::shared_ptr<SyncFailure> failure;  // the log's; null: none to share
};

struct SyncReport {
  raft::Index index = 0;  // durable through here
  raft::Term term = 0;
  double seconds = 0;     // the fdatasync's duration
  std::string error;      // non-empty: the fdatasync failed (the entries are not known durable)
};

class BackgroundSync {
 public:
  // `ops`: the fdatasync to call (tests inject failures); null: POSIX.
  explicit BackgroundSync(std::function<void(const SyncReport&)> report, FileOps* ops = nullptr);
  ~BackgroundSync();
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;

  void submit(SyncJob job);

 private:
  void run();

  std::function<void(const SyncReport&)> report_;
  FileOps& ops_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SyncJob> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fednode::storage
