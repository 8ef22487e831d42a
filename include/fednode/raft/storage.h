#pragma once
// The core reads its stable log through Storage; the driver writes to it (from Ready) before it
// acknowledges. MemoryStorage serves the simulation and tests; src/storage has the durable one.
#include <optional>
#include <vector>

#include "fednode/raft/types.h"

namespace fednode::raft {

class Storage {
 public:
  virtual ~Storage() = default;
  // Hard state and the membership of the latest snapshot.
  virtual HardState hard_state() const = 0;
  // Entries in [lo, hi), at least one if any, and no more than max_bytes beyond the first.
  // Precondition: first_index() <= lo <= hi <= last_index() + 1.
  virtual std::vector<Entry> entries(Index lo, Index hi, std::size_t max_bytes) const = 0;
  // Term of entry i, for first_index() - 1 <= i <= last_index(); nullopt otherwise.
  virtual std::optional<Term> term(Index i) const = 0;
  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;
  virtual const Snapshot& snapshot() const = 0;
};

// An in-memory Storage. Thread-compatible (no internal locking).
class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  HardState hard_state() const override { return hard_state_; }
  std::vector<Entry> entries(Index lo, Index hi, std::size_t max_bytes) const override;
  std::optional<Term> term(Index i) const override;
  Index first_index() const override { return snapshot_.meta.index + 1; }
  Index last_index() const override { return snapshot_.meta.index + entries_.size(); }
  const Snapshot& snapshot() const override { return snapshot_; }

  void set_hard_state(const HardState& hs) { hard_state_ = hs; }
  // Appends, replacing any conflicting suffix (entries at or after the first new index).
  void append(const std::vector<Entry>& entries);
  // Replaces everything with a snapshot received from the leader.
  void apply_snapshot(const Snapshot& snapshot);
  // Records a snapshot of the local state machine at applied index `index` and drops the log
  // up to it. Precondition: snapshot index < index <= last_index().
  void create_snapshot(Index index, const ConfState& conf, std::string data);

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  std::vector<Entry> entries_;  // entries_[k].index == snapshot_.meta.index + 1 + k
};

}  // namespace fednode::raft
