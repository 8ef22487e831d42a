#pragma once
// CRC-32C (Castagnoli), the checksum of every record the storage writes.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fednode::storage {

// With the CPU's crc32 instruction where it has one (x86-64 with SSE 4.2).
std::uint32_t crc32c(std::string_view data, std::uint32_t seed = 0);
// The table-driven version, on every CPU (tests compare the two).
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t seed = 0);

}  // namespace fednode::storage
