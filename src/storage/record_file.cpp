#include "fednode/storage/record_file.h"

#include "fednode/storage/crc32c.h"

namespace fednode::storage {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string frame_record(std::string_view payload) {
  std::string out;
  out.reserve(kRecordHeader + payload.size());
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  out.append(payload);
  return out;
}

RecordRead read_record(std::string_view bytes, std::size_t offset) {
  RecordRead r;
  if (offset == bytes.size()) return r;  // kEnd
  if (bytes.size() - offset < kRecordHeader) {
    r.kind = RecordRead::kShort;
    return r;
  }
  std::uint32_t len = get_u32(bytes, offset);
  std::uint32_t crc = get_u32(bytes, offset + 4);
  if (len > kMaxRecord) {
    r.kind = RecordRead::kBadLength;
    return r;
  }
  if (bytes.size() - offset - kRecordHeader < len) {
    r.kind = RecordRead::kShort;
    return r;
  }
  r.payload = bytes.substr(offset + kRecordHeader, len);
  r.next_offset = offset + kRecordHeader + len;
  r.kind = crc32c(r.payload) == crc ? RecordRead::kOk : RecordRead::kBadChecksum;
  return r;
}

}  // namespace fednode::storage
