#pragma once
// The fields of a peer message body that the compact (v2) and packed (v3) encodings announce in
// a mask: bit i set means field i is present; reject and done are flags that carry no value.
#include <cstdint>

#include "fednode/raft/message.h"

namespace fednode::net::detail {

enum Bit : std::uint32_t {
  kTerm, kCommit, kIndex, kLogTerm, kReject, kRejectHint, kContext, kEntries,
  kSnapshot, kOffset, kData, kDone, kFrom, kTo, kCluster, kBitCount
};
constexpr std::uint32_t bit(Bit b) { return 1u << b; }
constexpr std::uint32_t kFlags = bit(kReject) | bit(kDone);  // present means true: no value
// What a sealed datagram leaves to the seal (datagram_seal.h).
constexpr std::uint32_t kOriginFields = bit(kFrom) | bit(kTo) | bit(kCluster);

inline bool has_snapshot(const raft::SnapshotMeta& s) {
  return s.index != 0 || s.term != 0 || !s.conf.voters.empty() || !s.conf.learners.empty();
}

// `sealed`: from, to and the cluster are left out.
inline std::uint32_t mask_of(const raft::Message& m, bool sealed) {
  std::uint32_t mask = 0;
  auto set = [&](Bit b, bool present) { mask |= present ? bit(b) : 0; };
  set(kTerm, m.term != 0);
  set(kCommit, m.commit != 0);
  set(kIndex, m.index != 0);
  set(kLogTerm, m.log_term != 0);
  set(kReject, m.reject);
  set(kRejectHint, m.reject_hint != 0);
  set(kContext, m.context != 0);
  set(kEntries, !m.entries.empty());
  set(kSnapshot, has_snapshot(m.snapshot));
  set(kOffset, m.offset != 0);
  set(kData, !m.data.empty());
  set(kDone, m.done);
  if (!sealed) mask |= kOriginFields;
  return mask;
}

// Field b is present in `mask` and carries a value (is not a flag).
inline bool carries_value(std::uint32_t mask, std::uint32_t b) { return (mask & ~kFlags) & (1u << b); }

inline std::uint32_t values_in(std::uint32_t mask) {
  return static_cast<std::uint32_t>(__builtin_popcount(mask & ~kFlags));
}

}  // namespace fednode::net::detail
