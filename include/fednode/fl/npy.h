#pragma once
// NumPy's .npy format (numpy.lib.format, versions 1.0-3.0): a magic string, a little-endian
// header length, a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...)}
// and the array's bytes in C order. Only what a data set needs is read: little-endian (or
// byte-sized) bool, int8-64, uint8-64, float32 and float64 arrays in C order. No libtorch here.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/util/status.h"

namespace fednode::fl {

struct NpyHeader {
  char kind = 0;  // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int item_bytes = 0;
  std::vector<std::int64_t> shape;
  std::size_t header_bytes = 0;  // magic, version, length and dict: where the data starts
  std::uint64_t elements() const;
  std::uint64_t data_bytes() const { return elements() * static_cast<std::uint64_t>(item_bytes); }
  std::string dtype() const;  // "float32", "int64", ...
};

// How many bytes the header needs: at least 10 (magic, version, length); from the first 12
// bytes, the header's whole size. Returns 0 when `prefix` is too short to tell.
std::size_t npy_header_size(std::string_view prefix);

// Parses the header at the start of `bytes` (at least npy_header_size(bytes) long). Errors name
// what is wrong, without a file name: the caller adds it.
Status parse_npy_header(std::string_view bytes, NpyHeader* out);

// Converts `count` elements of `h`'s type at `data` to float32 / int64 (appended to `out`).
// A float that is NaN or infinite is an error naming its element index (from `first_index`).
Status npy_to_float(const NpyHeader& h, const char* data, std::size_t count, std::uint64_t first_index,
                    std::vector<float>* out);
Status npy_to_int(const NpyHeader& h, const char* data, std::size_t count, std::uint64_t first_index,
                  std::vector<std::int64_t>* out);

// Limits on what a header may declare (a corrupt or hostile file cannot ask for more).
inline constexpr std::size_t kNpyMaxHeader = 1 << 16;
inline constexpr int kNpyMaxRank = 8;

}  // namespace fednode::fl
