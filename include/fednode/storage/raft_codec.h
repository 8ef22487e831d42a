#pragma once
// msgpack encodings of what the storage persists. Decoders never throw: malformed input gives
// nullopt and the caller reports file and offset.
#include <optional>
#include <string>
#include <string_view>

#include "fednode/raft/types.h"

namespace fednode::storage {

// Entry: [index, term, type, data(bin)]
std::string encode_entry(const raft::Entry& entry);
std::optional<raft::Entry> decode_entry(std::string_view bytes);

// HardState: [term, vote, commit]
std::string encode_hard_state(const raft::HardState& hs);
std::optional<raft::HardState> decode_hard_state(std::string_view bytes);

// Snapshot: [index, term, [voters...], [learners...], data(bin)]
std::string encode_snapshot(const raft::Snapshot& snapshot);
std::optional<raft::Snapshot> decode_snapshot(std::string_view bytes);

}  // namespace fednode::storage
