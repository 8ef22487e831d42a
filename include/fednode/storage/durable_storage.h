#pragma once
// DurableStorage: the Raft log, hard state and snapshot on disk, under <data-dir>/raft/.
//
// Files (every one framed as records [u32 length][u32 crc32c][msgpack], see record_file.h):
//   log-<first index, 20 digits>.seg  append-only segments of entries, rolled at a size limit;
//   hardstate                         one record: [term, vote, commit], replaced atomically;
//   snapshot                          one record: [index, term, voters, learners, data],
//                                     replaced atomically; covered segments are then deleted.
// Durability: save() returns only after the entries it wrote are fdatasync'ed; everything the
// Raft core hands over in one Ready is written and synced together (group commit).
// Recovery (open): a torn tail (a short record, or a bad checksum on the very last record of
// the last segment) is what a crash mid-write leaves: it is truncated with a warning naming the
// file and offset. Any other damage (a bad record before the tail, a gap between segments or
// after the snapshot, a bad snapshot or hard state) is an error naming file and offset, and the
// node refuses to start rather than serve wrong data.
// Reads are served from memory (the log after the last snapshot is kept there).
// Faults: a write that fails (ENOSPC, EIO, short) is cut back off the segment and the append
// fails with nothing of it kept. A failed fdatasync leaves the storage broken: what was written
// since the last sync may never reach the disk and a second fdatasync would not say so (Linux may
// drop the failed pages and clear the error: the PostgreSQL fsync lesson), so every later write
// fails with the first error; the node must stop, and on restart recovers what is durable.
// Not thread-safe: the control loop owns it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fednode/raft/node.h"
#include "fednode/raft/storage.h"
#include "fednode/storage/background_sync.h"
#include "fednode/storage/file_ops.h"
#include "fednode/util/histogram.h"
#include "fednode/util/status.h"

namespace fednode::storage {

struct DurableOptions {
  std::uint64_t segment_bytes = 8u << 20;  // roll to a new segment beyond this size
  // fdatasync before acknowledging. Only tests that simulate crashes by reopening (the
  // simulation harness) turn it off, to run thousands of seeds quickly.
  bool sync = true;
  // The commit index alone is not needed for safety (a restarted node relearns it from the
  // leader), so a Ready that changes only the commit index rewrites the hard state file at most
  // once per this many entries; term and vote changes are always written before returning.
  std::uint64_t commit_persist_every = 1024;
  // The system calls segments are written and synced with (tests inject disk faults); null: POSIX.
  FileOps* file_ops = nullptr;
};

struct StorageStats {
  std::uint64_t syncs = 0;
  Histogram sync_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};  // fdatasync
  std::uint64_t bytes_written = 0;
  std::uint64_t segments_created = 0;
  std::uint64_t segments_deleted = 0;
  std::uint64_t torn_tails_truncated = 0;
};

class DurableStorage : public raft::Storage {
 public:
  // Opens (creating if needed) the storage in `dir` and recovers it.
  static Status open(const std::string& dir, const DurableOptions& options,
                     std::unique_ptr<DurableStorage>* out);
  ~DurableStorage() override;

  raft::HardState hard_state() const override { return memory_.hard_state(); }
  std::vector<raft::Entry> entries(raft::Index lo, raft::Index hi, std::size_t max_bytes) const override {
    return memory_.entries(lo, hi, max_bytes);
  }
  std::optional<raft::Term> term(raft::Index i) const override { return memory_.term(i); }
  raft::Index first_index() const override { return memory_.first_index(); }
  raft::Index last_index() const override { return memory_.last_index(); }
  const raft::Snapshot& snapshot() const override { return memory_.snapshot(); }

  // Makes a Ready's snapshot, entries and hard state durable, in that order (and, first, every
  // write save_async left unsynced).
  Status save(const raft::Ready& ready);
  // For a Ready with persist_async: appends its entries without fdatasync and fills *job for
  // BackgroundSync (a duplicate of the segment's descriptor, which the caller then owns).
  // Anything more than a plain append at the tail (a truncation, a new segment, a snapshot, a
  // hard state that must be written) is saved as save() does, and job->fd is -1: durable now.
  Status save_async(const raft::Ready& ready, SyncJob* job);
  // A background fdatasync's duration, for the stats.
  void record_sync(double seconds);
  // A background fdatasync failed (SyncReport::error): the storage is broken as if its own had.
  void sync_failed(const std::string& error);
  Status append(const std::vector<raft::Entry>& entries, bool sync = true);
  Status set_hard_state(const raft::HardState& hs, bool force = false);
  Status apply_snapshot(const raft::Snapshot& snapshot);
  // Snapshot of the local state machine at `index` (<= last index); compacts the log.
  Status create_snapshot(raft::Index index, const raft::ConfState& conf, std::string data);

  const std::string& directory() const { return dir_; }
  const StorageStats& stats() const { return stats_; }
  std::uint64_t log_bytes() const;  // the segments' sizes on disk
  // Why this storage refuses writes after a failed fdatasync or an append it could not undo;
  // empty while it is sound.
  const std::string& broken() const { return broken_; }

 private:
  struct Segment {
    raft::Index first = 0;
    std::string path;
    std::vector<std::uint64_t> offsets;  // offsets[k]: record of entry first + k
    std::uint64_t size = 0;
    raft::Index last() const { return first + offsets.size() - 1; }  // first - 1 when empty
  };

  DurableStorage(std::string dir, const DurableOptions& options);
  Status recover();
  Status load_segment(const std::string& path, raft::Index first, bool last_segment,
                      std::vector<raft::Entry>* entries, Segment* segment);
  Status truncate_from(raft::Index index);
  Status open_new_segment(raft::Index first);
  Status open_tail_for_append();
  Status remove_segments_through(raft::Index index);
  Status sync_tail();
  Status sync_directory();
  Status write_hard_state_file(const raft::HardState& hs);
  // A term or vote not yet on disk, or a commit index commit_persist_every past the one that is.
  bool hard_state_write_due(const raft::HardState& hs) const;

  Status refuse_if_broken();
  Status break_with(Status why);

  std::string dir_;
  DurableOptions options_;
  FileOps& ops_;
  std::string broken_;
  std::shared_ptr<SyncFailure> sync_failure_ = std::make_shared<SyncFailure>();  // shared with BackgroundSync
  raft::MemoryStorage memory_;
  std::vector<Segment> segments_;
  int tail_fd_ = -1;
  bool unsynced_ = false;  // save_async wrote to the tail since its last fdatasync
  raft::HardState persisted_hs_;
  StorageStats stats_;
};

}  // namespace fednode::storage
