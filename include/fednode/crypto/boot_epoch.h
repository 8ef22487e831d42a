#pragma once
// The boot epoch: a counter in <data-dir>/boot_epoch, incremented and written durably at every
// start before the node sends anything. Sealed datagrams use (epoch, counter) as their nonce,
// so a restarted node never reuses a nonce under a key.
#include <cstdint>
#include <string>

#include "fednode/util/status.h"

namespace fednode::crypto {

Status next_boot_epoch(const std::string& data_dir, std::uint32_t* epoch);

}  // namespace fednode::crypto
