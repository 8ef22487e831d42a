#include "raft_log.h"

#include <algorithm>
#include <cassert>

namespace fednode::raft {

RaftLog::RaftLog(const Storage& storage)
    : storage_(storage), unstable_offset_(storage.last_index() + 1) {
  committed_ = std::max(storage.hard_state().commit, storage.snapshot().meta.index);
  applied_ = storage.snapshot().meta.index;
}

Index RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_.first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return storage_.last_index();
}

std::optional<Term> RaftLog::term(Index i) const {
  if (unstable_snapshot_ && i == unstable_snapshot_->meta.index) return unstable_snapshot_->meta.term;
  if (i + 1 < first_index() || i > last_index()) return std::nullopt;
  if (i >= unstable_offset_ && !unstable_.empty()) return unstable_[i - unstable_offset_].term;
  if (unstable_snapshot_) return std::nullopt;
  return storage_.term(i);
}

std::optional<Index> RaftLog::maybe_append(Index index, Term log_term, Index leader_commit,
                                           const std::vector<Entry>& entries) {
  if (!match_term(index, log_term)) return std::nullopt;
  Index last_new = index + entries.size();
  // The first entry that is new or conflicts with ours; everything before it we already hold.
  auto conflict = std::find_if(entries.begin(), entries.end(),
                               [&](const Entry& e) { return !match_term(e.index, e.term); });
  if (conflict != entries.end()) {
    assert(conflict->index > committed_ && "leader tried to overwrite a committed entry");
    append(std::vector<Entry>(conflict, entries.end()));
  }
  commit_to(std::min(leader_commit, last_new));
  return last_new;
}

Index RaftLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return last_index();
  Index after = entries.front().index;
  assert(after > committed_);
  if (after == unstable_offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  } else if (after <= unstable_offset_) {
    unstable_offset_ = after;  // replaces stable entries too: the driver truncates its storage
    unstable_ = entries;
  } else {
    unstable_.resize(after - unstable_offset_);
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
  return last_index();
}

std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term t) const {
  for (Index i = index;; --i) {
    auto ti = term(i);
    if (!ti) return {i, 0};
    if (*ti <= t || i == 0) return {i, *ti};
  }
}

bool RaftLog::is_up_to_date(Index last, Term t) const {
  return t > last_term() || (t == last_term() && last >= last_index());
}

std::vector<Entry> RaftLog::slice(Index lo, Index hi, std::size_t max_bytes) const {
  std::vector<Entry> out;
  if (lo >= hi || lo < first_index()) return out;
  hi = std::min(hi, last_index() + 1);
  std::size_t bytes = 0;
  if (lo < unstable_offset_ && !unstable_snapshot_) {
    Index stable_hi = std::min(hi, unstable_offset_);
    out = storage_.entries(lo, stable_hi, max_bytes);
    for (const auto& e : out) bytes += entry_size(e);
    if (out.size() < stable_hi - lo) return out;  // budget exhausted inside storage
    lo = stable_hi;
  }
  for (Index i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    bytes += entry_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;
  assert(index <= last_index() && "commit index beyond the log");
  committed_ = index;
}

void RaftLog::applied_to(Index index) {
  if (index == 0) return;
  assert(index <= committed_ && index >= applied_);
  applied_ = index;
}

void RaftLog::restore(const Snapshot& snapshot) {
  committed_ = snapshot.meta.index;
  unstable_offset_ = snapshot.meta.index + 1;
  unstable_.clear();
  unstable_snapshot_ = snapshot;
}

void RaftLog::stable_to(Index index, Term t) {
  auto ti = term(index);
  if (!ti || *ti != t || index < unstable_offset_ || unstable_.empty()) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + static_cast<std::ptrdiff_t>(index + 1 - unstable_offset_));
  unstable_offset_ = index + 1;
}

void RaftLog::stable_snapshot_to(Index index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) unstable_snapshot_.reset();
}

}  // namespace fednode::raft
