#pragma once
// The packed (version 3) peer message body, for sealed datagrams only: the seal names the
// sender, the receiver and the cluster, and its header says the body is packed, so the body
// carries neither those nor a version. Layout, all integers unsigned LEB128 (util/varint.h):
//   type | mask << 4, then each present field of the mask (peer_codec_fields.h) in bit order:
//   a number as one varint; entries as a count, then per entry term, type, length and bytes
//   (indexes follow `index`); snapshot as index, term, voter count, voters, learner count,
//   learners; data as a length and bytes.
// A heartbeat is 3-5 bytes, its answer 2.
#include <string>
#include <string_view>

#include "fednode/net/peer_codec.h"

namespace fednode::net::detail {

std::string encode_packed(const raft::Message& m);
Status decode_packed(std::string_view body, const SealedOrigin& sealed, raft::Message* out);

}  // namespace fednode::net::detail
