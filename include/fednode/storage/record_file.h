#pragma once
// Framing shared by every file the storage writes: records of
//   [u32 length, little-endian][u32 crc32c of the payload][payload: one msgpack value]
// and the atomic whole-file write (temp file, fsync, rename, fsync of the directory).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// Reads a whole file; error names the file.
Status read_file(const std::string& path, std::string* out);
// Writes `bytes` to `path` atomically (temp file, rename) and, when `sync`, durably (fsync of
// the file before the rename and of the directory after it).
Status write_file_atomically(const std::string& path, std::string_view bytes, bool sync = true);
Status fsync_directory(const std::string& dir);

}  // namespace fednode::storage
