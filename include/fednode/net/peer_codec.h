#pragma once
// The peer channel's datagram body, in one of three encodings.
//
// Packed (versions 3 and 4, what nodes send inside sealed datagrams): varints, no version, no sender,
// receiver or cluster; the seal's header says the body is packed. See peer_codec_packed.h.
//
// Compact (version 2, what nodes send without keys, --insecure, and to a peer that sent compact
// itself): [2, type, mask, values...]. Bit i of `mask` says field i
// is present; absent fields are zero, empty or false, and reject/done are present-means-true
// flags that carry no value. The fields, in bit order:
//   0 term, 1 commit, 2 index, 3 log_term, 4 reject, 5 reject_hint, 6 context, 7 entries,
//   8 snapshot [index, term, voters, learners], 9 offset, 10 data, 11 done, 12 from, 13 to,
//   14 cluster_id
// Entries are [term, type, data]: their indexes follow `index` (an append's entries are
// contiguous). Inside a sealed datagram, from, to and cluster_id are left out: the seal
// authenticates the sender, the receiver and the cluster (datagram_seal.h). A heartbeat is
// 6-8 bytes, its answer 5.
//
// v1 (what nodes before the compact encoding send; still read, and sent to such peers):
//   [1, cluster_id, type, from, to, term, index, log_term, commit, reject, reject_hint,
//    context, entries, [snap_index, snap_term, voters, learners], offset, data, done]
// with entries as [index, term, type, data].
//
// Decoding never throws; a bad datagram gives a reason naming the field at fault.
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/raft/message.h"
#include "fednode/util/status.h"

namespace fednode::net {

inline constexpr std::uint8_t kPeerProtocolV1 = 1;
inline constexpr std::uint8_t kPeerProtocolCompact = 2;
inline constexpr std::uint8_t kPeerProtocolPacked = 3;
// A packed body in a salted seal (datagram_seal.h): what nodes send with keys.
inline constexpr std::uint8_t kPeerProtocolSalted = 4;

enum class PeerEncoding {
  kV1,
  kCompact,        // self-contained: names from, to and the cluster (insecure mode)
  kCompactSealed,  // for a sealed datagram: leaves them to the seal
  kPacked,         // for a sealed datagram whose header says so
};

std::string encode_peer_message(const std::string& cluster_id, const raft::Message& m,
                                PeerEncoding encoding = PeerEncoding::kCompact);

// What the seal established about a datagram: its authenticated sender and receiver. A compact
// body without from/to takes them from here; one without them outside a seal is an error.
struct SealedOrigin {
  raft::NodeId from = raft::kNoNode;
  raft::NodeId to = raft::kNoNode;
};

// Reads v1 or compact. On success *out holds the message and *version (if given) the body's
// version; a datagram of another cluster is an error too.
Status decode_peer_message(std::string_view datagram, const std::string& cluster_id, raft::Message* out,
                           const SealedOrigin& sealed = {}, std::uint8_t* version = nullptr);

// Reads a packed body; `sealed` must name its sender and receiver.
Status decode_packed_peer_message(std::string_view body, const SealedOrigin& sealed, raft::Message* out);

}  // namespace fednode::net
