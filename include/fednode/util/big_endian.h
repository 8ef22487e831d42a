#pragma once
// Unsigned integers in big-endian (network) order, as frame lengths, datagram headers and nonces
// carry them.
#include <cstdint>
#include <string>

namespace fednode {

// Appends the low `bytes` bytes of `v`, most significant first.
inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Writes them at `p` instead.
inline void store_be(unsigned char* p, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(v >> (8 * (bytes - 1 - i)));
}

inline std::uint64_t get_be(const void* data, int bytes) {
  auto p = static_cast<const unsigned char*>(data);
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace fednode
