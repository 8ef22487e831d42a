#pragma once
// Small msgpack packing helpers shared by the wire (net) and disk (storage) encodings.
#include <msgpack.hpp>

#include <string>
#include <vector>

namespace fednode {

using MsgpackPacker = msgpack::packer<msgpack::sbuffer>;

inline void pack_bin(MsgpackPacker& p, const std::string& data) {
  p.pack_bin(static_cast<std::uint32_t>(data.size()));
  p.pack_bin_body(data.data(), static_cast<std::uint32_t>(data.size()));
}

inline void pack_u64_array(MsgpackPacker& p, const std::vector<std::uint64_t>& values) {
  p.pack_array(static_cast<std::uint32_t>(values.size()));
  for (auto v : values) p.pack(v);
}

}  // namespace fednode
