#pragma once
// RaftLog: the log as the core sees it: the stable part in Storage, followed by entries (and
// possibly a snapshot) not yet persisted by the driver ("unstable"), plus the commit and applied
// indexes. Mirrors etcd's raftLog/unstable.
#include <optional>
#include <utility>
#include <vector>

#include "fednode/raft/storage.h"

namespace fednode::raft {

class RaftLog {
 public:
  explicit RaftLog(const Storage& storage);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const { return term(last_index()).value_or(0); }
  // Term of entry i, for first_index() - 1 <= i <= last_index(); nullopt when compacted/absent.
  std::optional<Term> term(Index i) const;
  bool match_term(Index i, Term t) const { return term(i) == t; }

  // AppendEntries receiver rule (§5.3). Returns the index of the last new entry, or nullopt when
  // the log has no entry at `index` with `log_term`.
  std::optional<Index> maybe_append(Index index, Term log_term, Index leader_commit,
                                    const std::vector<Entry>& entries);
  // Appends after truncating any suffix at or after entries.front().index. Returns last index.
  Index append(const std::vector<Entry>& entries);
  // The largest index <= `index` whose term is <= `term` (fast backtracking hint), with its term.
  std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;
  // §5.4.1: is a log ending at (last_index, last_term) at least as up to date as ours?
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Entries in [lo, hi) within max_bytes (at least one); empty when lo is compacted.
  std::vector<Entry> slice(Index lo, Index hi, std::size_t max_bytes) const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  void commit_to(Index index);
  void applied_to(Index index);

  // Replaces the log with a snapshot received from the leader (held unstable until persisted).
  void restore(const Snapshot& snapshot);
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  void stable_to(Index index, Term term);
  void stable_snapshot_to(Index index);

 private:
  const Storage& storage_;
  std::optional<Snapshot> unstable_snapshot_;
  Index unstable_offset_;        // index of unstable_[0]
  std::vector<Entry> unstable_;  // not yet in storage
  Index committed_ = 0;
  Index applied_ = 0;
};

}  // namespace fednode::raft
