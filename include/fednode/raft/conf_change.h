#pragma once
// Encoding of a ConfChange in a log entry, and its effect on a ConfState.
#include <optional>
#include <string>
#include <string_view>

#include "fednode/raft/types.h"

namespace fednode::raft {

// [u8 type][u64 node, little-endian][context bytes]
std::string encode_conf_change(const ConfChange& change);
std::optional<ConfChange> decode_conf_change(std::string_view data);

// Whether `change` is a real single-server change of `conf`: adds a new member, promotes a
// learner, or removes a member without removing the last voter.
bool conf_change_is_valid(const ConfState& conf, const ConfChange& change);

// Applies a valid change; membership lists stay sorted.
ConfState apply_conf_change(ConfState conf, const ConfChange& change);

bool contains(const std::vector<NodeId>& sorted_ids, NodeId id);

}  // namespace fednode::raft
