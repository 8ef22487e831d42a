#pragma once
// A zatt `get` request with an id (so the connection stays open), for the client-channel tests.
#include <msgpack.hpp>

#include <cstdint>
#include <string>

namespace fednode::net {

inline std::string get_request(std::uint64_t id) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(2);
  p.pack("type");
  p.pack("get");
  p.pack("id");
  p.pack(id);
  return std::string(b.data(), b.size());
}

}  // namespace fednode::net
