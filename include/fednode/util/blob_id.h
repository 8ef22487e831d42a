#pragma once
// Blob ids: the SHA-256 of a blob's bytes as 64 lower-case hex digits. Models and updates are
// stored, moved and checked under these names.
#include <string>
#include <string_view>

namespace fednode {

std::string sha256_hex(std::string_view bytes);
bool valid_blob_id(std::string_view id);
// A blob id as logs show it: its first 12 hex digits.
inline std::string short_id(std::string_view id) { return std::string(id.substr(0, 12)); }

}  // namespace fednode
