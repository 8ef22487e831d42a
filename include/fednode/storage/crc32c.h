#pragma once
// CRC-32C (Castagnoli), the checksum of every record the storage writes.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fednode::storage {

std::uint32_t crc32c(std::string_view data, std::uint32_t seed = 0);

}  // namespace fednode::storage
