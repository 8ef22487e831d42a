#pragma once
// Bytes and messages per channel and direction, so traffic experiments need no root.
#include <cstdint>

namespace fednode::net {

struct ChannelCounters {
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t messages_in = 0, messages_out = 0;
  std::uint64_t dropped_in = 0;   // malformed, wrong cluster, unknown sender
  std::uint64_t dropped_out = 0;  // oversized or unroutable
  std::uint64_t auth_failed = 0;  // sealed channels: forged, tampered or from a stranger (also in dropped_in)
  std::uint64_t replayed = 0;     // sealed channels: seen before (also in dropped_in)
  std::uint64_t connections_refused = 0;  // TCP: over a connection limit (also in dropped_in)
  std::uint64_t idle_closed = 0;          // TCP: closed after the idle timeout
};

}  // namespace fednode::net
