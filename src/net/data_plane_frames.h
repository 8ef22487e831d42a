#pragma once
// The data plane's frames (private to src/net): [u32 length, big-endian][msgpack map], the
// requests a client sends and the answers a server gives (the protocol is in net/data_plane.h).
#include <cstdint>
#include <string>

#include <msgpack.hpp>

#include "fednode/net/data_plane.h"

namespace fednode::net::frames {

std::string frame(const std::string& payload);
std::uint32_t frame_length(const unsigned char* header);
// `delta`: the data is the change from a base instead of the blob (a fetch that welcomed one).
std::string answer(bool ok, const std::string& reason_or_data, bool with_data, bool delta = false);
std::string bin_field(const msgpack::object& map, const char* key);
// `parts`: an update whose data came before in parts (the frame carries none).
std::string request(const char* op, const std::string& id, const std::string* data, const UpdateNotice* notice = nullptr,
                    bool delta = false, bool parts = false);
// {op: part, id, size, offset, data} and its answer {ok: true, have}: the bytes the server holds.
std::string part_request(const std::string& id, std::uint64_t size, std::uint64_t offset, std::string_view data);
std::string part_answer(std::uint64_t have);
// {op: fetch, id, offset, length} and its answer {ok: true, data, offset, size}.
std::string range_request(const std::string& id, std::uint64_t offset, std::uint64_t length, bool delta = false);
std::string range_answer(std::string_view slice, std::uint64_t offset, std::uint64_t size);

}  // namespace fednode::net::frames
