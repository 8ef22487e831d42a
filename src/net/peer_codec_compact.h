#pragma once
// The compact (version 2) peer message body; see fednode/net/peer_codec.h for the layout.
#include <msgpack.hpp>

#include <string>

#include "fednode/net/peer_codec.h"

namespace fednode::net::detail {

// `sealed`: leave from, to and the cluster to the seal.
std::string encode_compact(const std::string& cluster_id, const raft::Message& m, bool sealed);
// `a` is the whole array, version included.
Status decode_compact(const msgpack::object_array& a, const std::string& cluster_id, const SealedOrigin& sealed,
                      raft::Message* out);

}  // namespace fednode::net::detail
