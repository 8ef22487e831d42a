#pragma once
// Bounds for decoding msgpack that came from outside (a peer, a client, a file). Without them
// msgpack-c believes every header: five bytes announcing an array of 2^32 elements allocate for
// all of them, and a 64 KiB datagram of nested array headers costs most of a second of CPU.
#include <msgpack.hpp>

#include <cstddef>

namespace fednode {

// Nothing fednode writes nests deeper than this; zatt clients' stored values get more room.
inline constexpr std::size_t kMaxWireDepth = 16;
inline constexpr std::size_t kMaxClientDepth = 64;

// No container, string or binary can hold more elements or bytes than the input it arrived in.
inline msgpack::unpack_limit input_limit(std::size_t input_bytes, std::size_t depth = kMaxWireDepth) {
  return msgpack::unpack_limit(input_bytes, input_bytes, input_bytes, input_bytes, input_bytes, depth);
}

// Unpacks `size` bytes at `data` under input_limit; throws what msgpack::unpack throws.
inline msgpack::object_handle bounded_unpack(const char* data, std::size_t size, std::size_t& offset,
                                             std::size_t depth = kMaxWireDepth) {
  return msgpack::unpack(data, size, offset, nullptr, nullptr, input_limit(size, depth));
}

// The same for input that is one object with nothing after it worth checking.
inline msgpack::object_handle bounded_unpack_one(const char* data, std::size_t size, std::size_t depth = kMaxWireDepth) {
  std::size_t offset = 0;
  return bounded_unpack(data, size, offset, depth);
}

}  // namespace fednode
