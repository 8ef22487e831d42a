#include "fednode/storage/durable_storage.h"

#include <chrono>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "fednode/storage/raft_codec.h"
#include "fednode/storage/record_file.h"
#include "fednode/util/file_io.h"

namespace fednode::storage {
namespace fs = std::filesystem;
using raft::Entry;
using raft::Index;

namespace {

constexpr const char* kHardStateFile = "hardstate";
constexpr const char* kSnapshotFile = "snapshot";
// Why a failed fdatasync breaks the storage for good.
constexpr const char* kNotDurable =
    ": the entries written since the last sync may not be on disk, and syncing again would not tell; this log "
    "takes no more writes (a restart recovers what is durable)";

std::string segment_name(Index first) {
  char name[40];
  std::snprintf(name, sizeof name, "log-%020" PRIu64 ".seg", first);
  return name;
}

std::optional<Index> parse_segment_name(const std::string& name) {
  if (name.size() != 28 || name.rfind("log-", 0) != 0 || name.substr(24) != ".seg") return std::nullopt;
  Index v = 0;
  for (char c : name.substr(4, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<Index>(c - '0');
  }
  return v;
}

Status errno_error(const std::string& what, const std::string& path) {
  return Status::error(what + " " + path + ": " + std::strerror(errno));
}

// Reads a file holding exactly one record; nullopt payload when the file does not exist.
Status read_single_record(const std::string& path, std::optional<std::string>* payload) {
  payload->reset();
  if (!fs::exists(path)) return {};
  std::string bytes;
  if (Status s = read_file(path, &bytes); !s.ok()) return s;
  RecordRead r = read_record(bytes, 0);
  if (r.kind != RecordRead::kOk || r.next_offset != bytes.size()) {
    return Status::error(path + ": corrupt (bad checksum or length at offset 0); refusing to start");
  }
  *payload = std::string(r.payload);
  return {};
}

}  // namespace

DurableStorage::DurableStorage(std::string dir, const DurableOptions& options)
    : dir_(std::move(dir)), options_(options), ops_(options.file_ops ? *options.file_ops : posix_file_ops()) {}

Status DurableStorage::refuse_if_broken() {
  if (broken_.empty() && sync_failure_->failed) {
    std::lock_guard<std::mutex> lock(sync_failure_->mu);
    broken_ = sync_failure_->error + kNotDurable;
  }
  return broken_.empty() ? Status{} : Status::error(broken_);
}

Status DurableStorage::break_with(Status why) {
  if (broken_.empty()) broken_ = why.message();
  return why;
}

DurableStorage::~DurableStorage() {
  if (tail_fd_ >= 0) ::close(tail_fd_);
}

Status DurableStorage::open(const std::string& dir, const DurableOptions& options,
                            std::unique_ptr<DurableStorage>* out) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::error("cannot create " + dir + ": " + ec.message());
  std::unique_ptr<DurableStorage> s(new DurableStorage(dir, options));
  if (Status st = s->recover(); !st.ok()) return st;
  *out = std::move(s);
  return {};
}

Status DurableStorage::recover() {
  for (const auto& f : fs::directory_iterator(dir_)) {
    if (is_interrupted_write(f.path().filename().string())) fs::remove(f.path());
  }
  std::optional<std::string> payload;
  raft::Snapshot snapshot;
  if (Status s = read_single_record(dir_ + "/" + kSnapshotFile, &payload); !s.ok()) return s;
  if (payload) {
    auto decoded = decode_snapshot(*payload);
    if (!decoded) return Status::error(dir_ + "/" + kSnapshotFile + ": undecodable snapshot at offset 8");
    snapshot = std::move(*decoded);
  }
  raft::HardState hs;
  if (Status s = read_single_record(dir_ + "/" + kHardStateFile, &payload); !s.ok()) return s;
  if (payload) {
    auto decoded = decode_hard_state(*payload);
    if (!decoded) return Status::error(dir_ + "/" + kHardStateFile + ": undecodable hard state at offset 8");
    hs = *decoded;
  }

  std::vector<std::pair<Index, std::string>> files;
  for (const auto& f : fs::directory_iterator(dir_)) {
    if (auto first = parse_segment_name(f.path().filename().string())) files.emplace_back(*first, f.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < files.size(); ++i) {
    Segment seg;
    std::vector<Entry> seg_entries;
    if (Status s = load_segment(files[i].second, files[i].first, i + 1 == files.size(), &seg_entries, &seg); !s.ok()) {
      return s;
    }
    if (!segments_.empty() && seg.first != segments_.back().last() + 1) {
      return Status::error(files[i].second + ": starts at index " + std::to_string(seg.first) +
                           " but the previous segment ends at " + std::to_string(segments_.back().last()) +
                           " (missing segment); refusing to start");
    }
    entries.insert(entries.end(), std::make_move_iterator(seg_entries.begin()), std::make_move_iterator(seg_entries.end()));
    segments_.push_back(std::move(seg));
  }

  memory_.apply_snapshot(snapshot);
  Index snap = snapshot.meta.index;
  auto after = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.index > snap; });
  if (snap > 0) {
    auto at = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.index == snap; });
    if (at != entries.end() && at->term != snapshot.meta.term && after != entries.end()) {
      // Left over from a snapshot installed from the leader: the log after it is not ours.
      spdlog::warn("{}: log after snapshot index {} conflicts with it; discarding", dir_, snap);
      if (Status s = truncate_from(snap + 1); !s.ok()) return s;
      after = entries.end();
    }
  }
  if (after != entries.end() && after->index != snap + 1) {
    return Status::error(dir_ + ": log resumes at index " + std::to_string(after->index) +
                         " but the snapshot ends at " + std::to_string(snap) + " (missing entries); refusing to start");
  }
  memory_.append(std::vector<Entry>(after, entries.end()));
  if (hs.commit > memory_.last_index()) {
    return Status::error(dir_ + "/" + kHardStateFile + ": commit index " + std::to_string(hs.commit) +
                         " is beyond the last log entry " + std::to_string(memory_.last_index()) +
                         " (log lost durable entries); refusing to start");
  }
  memory_.set_hard_state(hs);
  persisted_hs_ = hs;
  return open_tail_for_append();
}

Status DurableStorage::load_segment(const std::string& path, Index first, bool last_segment,
                                    std::vector<Entry>* entries, Segment* seg) {
  std::string bytes;
  if (Status s = read_file(path, &bytes); !s.ok()) return s;
  seg->first = first;
  seg->path = path;
  std::size_t offset = 0;
  for (;;) {
    RecordRead r = read_record(bytes, offset);
    if (r.kind == RecordRead::kEnd) break;
    // A crash mid-append leaves a prefix of the record being written, or (when the file size
    // reached the disk before the data) zeros.
    bool zeros = std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end(),
                             [](char c) { return c == 0; });
    bool torn = last_segment && (zeros || r.kind == RecordRead::kShort ||
                                 (r.kind == RecordRead::kBadChecksum && r.next_offset == bytes.size()));
    if (torn) {
      spdlog::warn("{}: torn record at offset {} (crash during a write); truncating {} bytes", path,
                   offset, bytes.size() - offset);
      if (::truncate(path.c_str(), static_cast<off_t>(offset)) != 0) return errno_error("cannot truncate", path);
      ++stats_.torn_tails_truncated;
      bytes.resize(offset);
      break;
    }
    if (r.kind != RecordRead::kOk) {
      const char* what = r.kind == RecordRead::kShort ? "truncated record"
                         : r.kind == RecordRead::kBadLength ? "impossible record length"
                                                             : "checksum mismatch";
      return Status::error(path + ": " + what + " at offset " + std::to_string(offset) +
                           " (not at the tail of the log); refusing to start");
    }
    auto e = decode_entry(r.payload);
    if (!e) return Status::error(path + ": undecodable entry at offset " + std::to_string(offset));
    Index expected = first + seg->offsets.size();
    if (e->index != expected) {
      return Status::error(path + ": entry at offset " + std::to_string(offset) + " has index " +
                           std::to_string(e->index) + ", expected " + std::to_string(expected));
    }
    seg->offsets.push_back(offset);
    entries->push_back(std::move(*e));
    offset = r.next_offset;
  }
  seg->size = bytes.size();
  return {};
}

Status DurableStorage::open_tail_for_append() {
  if (tail_fd_ >= 0) ::close(tail_fd_);
  tail_fd_ = -1;
  if (segments_.empty()) return {};
  const std::string& path = segments_.back().path;
  tail_fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (tail_fd_ < 0) return errno_error("cannot open", path);
  return {};
}

Status DurableStorage::open_new_segment(Index first) {
  Segment seg;
  seg.first = first;
  seg.path = dir_ + "/" + segment_name(first);
  int fd = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot create", seg.path);
  if (tail_fd_ >= 0) ::close(tail_fd_);
  tail_fd_ = fd;
  segments_.push_back(std::move(seg));
  ++stats_.segments_created;
  return sync_directory();
}

std::uint64_t DurableStorage::log_bytes() const {
  std::uint64_t total = 0;
  for (const auto& seg : segments_) total += seg.size;
  return total;
}

Status DurableStorage::sync_directory() {
  return options_.sync ? fsync_directory(dir_) : Status{};
}

Status DurableStorage::sync_tail() {
  unsynced_ = false;
  if (!options_.sync || tail_fd_ < 0) return {};
  ++stats_.syncs;
  auto t0 = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(sync_failure_->mu);
  if (sync_failure_->failed) {  // the background thread's fdatasync failed, and took the error with it
    return break_with(Status::error(sync_failure_->error + kNotDurable));
  }
  if (ops_.fdatasync(tail_fd_) != 0) {
    return break_with(Status::error("cannot fdatasync " + segments_.back().path + ": " + std::strerror(errno) +
                                    kNotDurable));
  }
  stats_.sync_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return {};
}

Status DurableStorage::truncate_from(Index index) {
  bool removed = false;
  while (!segments_.empty() && segments_.back().first >= index) {
    if (::unlink(segments_.back().path.c_str()) != 0) return errno_error("cannot remove", segments_.back().path);
    segments_.pop_back();
    ++stats_.segments_deleted;
    removed = true;
  }
  if (!segments_.empty() && index <= segments_.back().last()) {
    Segment& seg = segments_.back();
    std::uint64_t cut = seg.offsets[index - seg.first];
    if (::truncate(seg.path.c_str(), static_cast<off_t>(cut)) != 0) return errno_error("cannot truncate", seg.path);
    seg.offsets.resize(index - seg.first);
    seg.size = cut;
  }
  if (Status s = open_tail_for_append(); !s.ok()) return s;
  if (Status s = sync_tail(); !s.ok()) return s;  // fdatasync also makes the new size durable
  return removed ? sync_directory() : Status{};
}

Status DurableStorage::append(const std::vector<Entry>& entries, bool sync) {
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  if (entries.empty()) return {};
  Index first = entries.front().index;
  if (first <= memory_.snapshot().meta.index || first > memory_.last_index() + 1) {
    return Status::error(dir_ + ": append at index " + std::to_string(first) + " does not follow the log [" +
                         std::to_string(memory_.first_index()) + ", " + std::to_string(memory_.last_index()) + "]");
  }
  bool truncated = first <= memory_.last_index();
  if (truncated) {
    if (Status s = truncate_from(first); !s.ok()) return s;  // a new leader's conflicting suffix
  }
  if (segments_.empty() || segments_.back().size >= options_.segment_bytes) {
    if (Status s = open_new_segment(first); !s.ok()) return s;
  }
  Segment& seg = segments_.back();
  if (seg.offsets.empty() && seg.first != first) {
    return Status::error(seg.path + ": empty segment named for index " + std::to_string(seg.first) +
                         " cannot take index " + std::to_string(first));
  }
  std::string batch;
  std::vector<std::uint64_t> offsets;
  for (const auto& e : entries) {
    offsets.push_back(seg.size + batch.size());
    batch += frame_record(encode_entry(e));
  }
  std::string_view rest = batch;
  while (!rest.empty()) {
    ssize_t n = ops_.write(tail_fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      // Nothing of a failed append stays: the segment is cut back to its last whole record, or,
      // if even that fails, the log takes no more writes (a restart truncates the torn tail).
      Status failed = Status::error("cannot write " + std::to_string(entries.size()) + " entries at index " +
                                    std::to_string(entries.front().index) + " to " + seg.path + ": " + std::strerror(errno));
      if (ops_.ftruncate(tail_fd_, static_cast<off_t>(seg.size)) != 0) {
        return break_with(Status::error(failed.message() + "; cannot cut it back to " + std::to_string(seg.size) +
                                        " bytes: " + std::strerror(errno)));
      }
      // The conflicting suffix is gone from the file but not from memory: nothing may follow.
      if (truncated) return break_with(Status::error(failed.message() + " after cutting the log back to index " +
                                                     std::to_string(first - 1)));
      return failed;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  seg.offsets.insert(seg.offsets.end(), offsets.begin(), offsets.end());
  seg.size += batch.size();
  stats_.bytes_written += batch.size();
  if (sync) {
    if (Status s = sync_tail(); !s.ok()) return s;
  } else {
    unsynced_ = true;
  }
  memory_.append(entries);
  return {};
}

Status DurableStorage::write_hard_state_file(const raft::HardState& hs) {
  if (Status s = write_file_atomically(dir_ + "/" + kHardStateFile, frame_record(encode_hard_state(hs)), options_.sync); !s.ok()) {
    return s;
  }
  persisted_hs_ = hs;
  return {};
}

bool DurableStorage::hard_state_write_due(const raft::HardState& hs) const {
  bool vote_or_term = hs.term != persisted_hs_.term || hs.vote != persisted_hs_.vote;
  bool commit_due = hs.commit >= persisted_hs_.commit + options_.commit_persist_every;
  return vote_or_term || commit_due;
}

Status DurableStorage::set_hard_state(const raft::HardState& hs, bool force) {
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  memory_.set_hard_state(hs);
  if (!force && !hard_state_write_due(hs)) return {};
  return write_hard_state_file(hs);
}

Status DurableStorage::apply_snapshot(const raft::Snapshot& snapshot) {
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  if (Status s = write_file_atomically(dir_ + "/" + kSnapshotFile, frame_record(encode_snapshot(snapshot)), options_.sync); !s.ok()) {
    return s;
  }
  // The leader's snapshot replaces the whole log.
  for (const auto& seg : segments_) {
    if (::unlink(seg.path.c_str()) != 0) return errno_error("cannot remove", seg.path);
    ++stats_.segments_deleted;
  }
  segments_.clear();
  if (tail_fd_ >= 0) ::close(tail_fd_);
  tail_fd_ = -1;
  memory_.apply_snapshot(snapshot);
  raft::HardState hs = memory_.hard_state();
  hs.commit = std::max(hs.commit, snapshot.meta.index);
  if (Status s = set_hard_state(hs, true); !s.ok()) return s;
  return sync_directory();
}

Status DurableStorage::create_snapshot(Index index, const raft::ConfState& conf, std::string data) {
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  if (index <= memory_.snapshot().meta.index || index > memory_.last_index()) {
    return Status::error(dir_ + ": cannot snapshot at " + std::to_string(index) + " outside the log");
  }
  raft::Snapshot snap{{index, *memory_.term(index), conf}, std::move(data)};
  if (Status s = write_file_atomically(dir_ + "/" + kSnapshotFile, frame_record(encode_snapshot(snap)), options_.sync); !s.ok()) {
    return s;
  }
  memory_.create_snapshot(index, conf, std::move(snap.data));
  return remove_segments_through(index);
}

Status DurableStorage::remove_segments_through(Index index) {
  // A segment is wholly covered when the next one starts at or before index + 1.
  std::size_t drop = 0;
  while (drop + 1 < segments_.size() && segments_[drop + 1].first <= index + 1) ++drop;
  for (std::size_t i = 0; i < drop; ++i) {
    if (::unlink(segments_[i].path.c_str()) != 0) return errno_error("cannot remove", segments_[i].path);
    ++stats_.segments_deleted;
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(drop));
  return drop > 0 ? sync_directory() : Status{};
}

Status DurableStorage::save(const raft::Ready& ready) {
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  // Truncating, rolling to a new segment or recording a hard state must not overtake the
  // background writes: they become durable first.
  if (unsynced_) {
    if (Status s = sync_tail(); !s.ok()) return s;
  }
  if (ready.snapshot) {
    if (Status s = apply_snapshot(*ready.snapshot); !s.ok()) return s;
  }
  if (Status s = append(ready.entries); !s.ok()) return s;
  if (ready.hard_state) return set_hard_state(*ready.hard_state);
  return {};
}

Status DurableStorage::save_async(const raft::Ready& ready, SyncJob* job) {
  job->fd = -1;
  if (Status s = refuse_if_broken(); !s.ok()) return s;
  bool plain = !ready.snapshot && !ready.entries.empty() && ready.entries.front().index == memory_.last_index() + 1 &&
               !segments_.empty() && segments_.back().size < options_.segment_bytes && tail_fd_ >= 0 &&
               !(ready.hard_state && hard_state_write_due(*ready.hard_state));
  if (!plain) return save(ready);
  if (Status s = append(ready.entries, false); !s.ok()) return s;
  if (ready.hard_state) memory_.set_hard_state(*ready.hard_state);
  int fd = ::dup(tail_fd_);
  if (fd < 0) return sync_tail();  // no descriptor to spare: sync here
  *job = SyncJob{fd, segments_.back().path, ready.entries.back().index, ready.entries.back().term, sync_failure_};
  return {};
}

void DurableStorage::sync_failed(const std::string& error) {
  break_with(Status::error(error + kNotDurable));
}

void DurableStorage::record_sync(double seconds) {
  ++stats_.syncs;
  stats_.sync_seconds.observe(seconds);
}

}  // namespace fednode::storage
