#include <cassert>

#include "fednode/raft/storage.h"

namespace fednode::raft {

MemoryStorage::MemoryStorage() = default;

std::vector<Entry> MemoryStorage::entries(Index lo, Index hi, std::size_t max_bytes) const {
  assert(lo >= first_index() && hi <= last_index() + 1 && lo <= hi);
  std::vector<Entry> out;
  std::size_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - first_index()];
    bytes += entry_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

std::optional<Term> MemoryStorage::term(Index i) const {
  if (i == snapshot_.meta.index) return snapshot_.meta.term;
  if (i < first_index() || i > last_index()) return std::nullopt;
  return entries_[i - first_index()].term;
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  Index first = entries.front().index;
  assert(first > snapshot_.meta.index && first <= last_index() + 1);
  entries_.resize(first - first_index());
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

void MemoryStorage::apply_snapshot(const Snapshot& snapshot) {
  snapshot_ = snapshot;
  entries_.clear();
}

void MemoryStorage::create_snapshot(Index index, const ConfState& conf, std::string data) {
  assert(index > snapshot_.meta.index && index <= last_index());
  Term term = *this->term(index);
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index + 1 - first_index()));
  snapshot_.meta = SnapshotMeta{index, term, conf};
  snapshot_.data = std::move(data);
}

}  // namespace fednode::raft
