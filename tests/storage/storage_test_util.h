#pragma once
// What the storage tests share: entries of a known shape, and opening a DurableStorage that must
// open.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fednode/storage/durable_storage.h"

namespace fednode::storage::test {

inline raft::Entry entry(raft::Index i, raft::Term t, std::size_t size = 16) {
  return raft::Entry{t, i, raft::EntryType::kNormal, std::string(size, static_cast<char>('a' + i % 26)) + std::to_string(i)};
}

inline std::vector<raft::Entry> range(raft::Index lo, raft::Index hi, raft::Term t, std::size_t size = 16) {
  std::vector<raft::Entry> out;
  for (raft::Index i = lo; i <= hi; ++i) out.push_back(entry(i, t, size));
  return out;
}

inline std::unique_ptr<DurableStorage> open_ok(const std::string& dir, DurableOptions o = {}) {
  std::unique_ptr<DurableStorage> s;
  Status st = DurableStorage::open(dir, o, &s);
  EXPECT_TRUE(st.ok()) << st.message();
  return s;
}

}  // namespace fednode::storage::test
