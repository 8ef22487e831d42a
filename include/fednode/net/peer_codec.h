#pragma once
// The peer channel's datagram: one msgpack array
//   [version=1, cluster_id, type, from, to, term, index, log_term, commit, reject, reject_hint,
//    context, entries, [snap_index, snap_term, voters, learners], offset, data, done]
// with entries as [index, term, type, data]. Decoding never throws; a bad datagram gives a
// reason naming the field at fault.
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/raft/message.h"
#include "fednode/util/status.h"

namespace fednode::net {

inline constexpr std::uint8_t kPeerProtocolVersion = 1;

std::string encode_peer_message(const std::string& cluster_id, const raft::Message& m);

// On success *out holds the message; a datagram of another cluster is an error too.
Status decode_peer_message(std::string_view datagram, const std::string& cluster_id, raft::Message* out);

}  // namespace fednode::net
