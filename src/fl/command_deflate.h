#pragma once
// Round commands travel in every append to every follower and stay in the log, and most of their
// bytes are what every node already knows: the field names of a msgpack map. A body is deflated
// (zlib, level 9) against a fixed dictionary of those names, so they cost a back-reference each;
// a 600-byte round commit becomes about 250. The dictionary is frozen: changing it would make
// the log's earlier commands unreadable (zlib checks its Adler-32 on the way in).
#include <string>
#include <string_view>

#include "fednode/util/status.h"

namespace fednode::fl {

inline constexpr std::size_t kMaxCommandBody = 64 * 1024;

std::string deflate_command_body(std::string_view body);
// Refuses a stream that is damaged, names another dictionary, has bytes after its end or
// inflates past kMaxCommandBody (never allocating more than that).
Status inflate_command_body(std::string_view deflated, std::string* body);

}  // namespace fednode::fl
