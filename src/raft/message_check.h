#pragma once
// What no correct peer sends. Raft::step drops such a message before it touches the term, the
// vote or the log, so that one datagram can neither wrap a term nor size the log by an index it
// carries (see tests/raft/hostile_message_test.cpp).
#include "fednode/raft/message.h"

namespace fednode::raft {

// Terms and indexes stay far below 2^64: a term this high could only be reached by 2^62
// elections, and a node holding it could still campaign and compare without wrapping.
inline constexpr std::uint64_t kMaxTermOrIndex = std::uint64_t{1} << 62;

// A correct peer's term is ahead of ours by the elections we missed, never by 2^32 (at one
// election a second, 136 years of them): a lying member cannot push a group's term to
// kMaxTermOrIndex, where no message would be accepted any more, in fewer than 2^30 messages.
inline constexpr std::uint64_t kMaxTermJump = std::uint64_t{1} << 32;
// From a node our configuration lists as a learner the bound is 2^16 (2^46 messages to exhaust
// the term): a learner campaigns only once promoted, in a change we may not have applied yet.
inline constexpr std::uint64_t kMaxLearnerTermJump = std::uint64_t{1} << 16;

// nullptr for a well-formed message, else what is wrong with it.
const char* malformed(const Message& m);

}  // namespace fednode::raft
