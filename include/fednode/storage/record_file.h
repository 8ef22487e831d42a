#pragma once
// Framing shared by every file the storage writes: records of
//   [u32 length, little-endian][u32 crc32c of the payload][payload: one msgpack value]
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fednode/util/file_io.h"
#include "fednode/util/status.h"

namespace fednode::storage {

inline constexpr std::size_t kRecordHeader = 8;
inline constexpr std::uint32_t kMaxRecord = 256u << 20;  // larger lengths are corruption

std::string frame_record(std::string_view payload);

// Result of reading one record at `offset` of `bytes`.
struct RecordRead {
  enum Kind { kOk, kEnd, kShort, kBadChecksum, kBadLength } kind = kEnd;
  std::string_view payload;
  std::size_t next_offset = 0;
};
RecordRead read_record(std::string_view bytes, std::size_t offset);

}  // namespace fednode::storage
