#pragma once
// Unsigned LEB128: 7 bits a byte, low group first, high bit set on every byte but the last.
// Small numbers (datagram counters, boot epochs) take one or two bytes instead of four or eight.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fednode {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads one from `in` at *pos and advances it; false if it is cut short, longer than 10 bytes,
// over 64 bits, or not in its shortest form (so one value has exactly one encoding).
inline bool get_varint(std::string_view in, std::size_t* pos, std::uint64_t* v) {
  std::uint64_t out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    auto b = static_cast<unsigned char>(in[(*pos)++]);
    if (shift == 63 && b > 1) return false;
    out |= std::uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) {
      if (b == 0 && shift > 0) return false;  // a trailing zero group: not the shortest form
      *v = out;
      return true;
    }
  }
  return false;
}

}  // namespace fednode
