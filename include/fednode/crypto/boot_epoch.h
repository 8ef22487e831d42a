#pragma once
// The boot epoch orders a node's starts for its peers' replay protection (datagram_seal.h): the
// larger of the wall clock's seconds since 1970 and one more than the epoch in
// <data-dir>/boot_epoch, written there durably at every start before the node sends anything.
// The file keeps epochs rising when the clock steps back; the clock keeps them rising when the
// file is restored from a backup or deleted, so such a node is heard at once. Nonces do not rely
// on it: they carry a random salt of their own.
#include <cstdint>
#include <string>

#include "fednode/util/status.h"

namespace fednode::crypto {

// `wall_seconds`: the wall clock now (seconds since 1970); tests pass their own.
Status next_boot_epoch(const std::string& data_dir, std::uint32_t* epoch, std::uint64_t wall_seconds);
Status next_boot_epoch(const std::string& data_dir, std::uint32_t* epoch);

}  // namespace fednode::crypto
