// A data-plane frame's body (what a plaintext connection, or a member's sealed one, delivers).
#include <cstdint>
#include <string_view>

#include "fednode/net/data_plane.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fednode::net::DataRequest req;
  (void)fednode::net::decode_data_request(std::string_view(reinterpret_cast<const char*>(data), size), &req);
  return 0;
}
