#pragma once
// What no correct peer sends. Raft::step drops such a message before it touches the term, the
// vote or the log, so that one datagram can neither wrap a term nor size the log by an index it
// carries (see tests/raft/hostile_message_test.cpp).
#include "fednode/raft/message.h"

namespace fednode::raft {

// Terms and indexes stay far below 2^64: a term this high could only be reached by 2^62
// elections, and a node holding it could still campaign and compare without wrapping.
inline constexpr std::uint64_t kMaxTermOrIndex = std::uint64_t{1} << 62;

// nullptr for a well-formed message, else what is wrong with it.
const char* malformed(const Message& m);

}  // namespace fednode::raft
