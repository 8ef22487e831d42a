#include "fednode/storage/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace fednode::storage {
namespace {

// Slicing-by-1 table for the reflected Castagnoli polynomial.
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto kTable = make_table();

std::uint32_t crc32c_table(std::string_view data, std::uint32_t c) {
  for (unsigned char byte : data) c = kTable[(c ^ byte) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
// SSE 4.2's crc32 instruction computes the same polynomial, 8 bytes per instruction: the log's
// checksums were a tenth of a loaded node's CPU with the table.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view data, std::uint32_t c) {
  const char* p = data.data();
  std::size_t n = data.size();
  std::uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c64 = _mm_crc32_u64(c64, word);
  }
  auto c32 = static_cast<std::uint32_t>(c64);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
  return c32;
}

bool cpu_has_sse42() {
  __builtin_cpu_init();  // may run before libgcc's own constructor has
  return __builtin_cpu_supports("sse4.2");
}

// Before its initialisation (a static initialiser elsewhere) this reads false: the table.
const bool kHaveSse42 = cpu_has_sse42();
#endif

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t seed) {
#if defined(__x86_64__)
  if (kHaveSse42) return ~crc32c_sse42(data, ~seed);
#endif
  return ~crc32c_table(data, ~seed);
}

std::uint32_t crc32c_portable(std::string_view data, std::uint32_t seed) { return ~crc32c_table(data, ~seed); }

}  // namespace fednode::storage
