#pragma once
// Reading fields of decoded msgpack maps: the one helper every decoder (client requests,
// data-plane frames, round commands) uses.
#include <msgpack.hpp>

#include <string>
#include <string_view>

namespace fednode {

// The value under string key `key` of a map; nullptr if `map` is no map or lacks the key.
inline const msgpack::object* map_field(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& k = map.via.map.ptr[i].key;
    if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key) {
      return &map.via.map.ptr[i].val;
    }
  }
  return nullptr;
}

// A string value, or "" for anything else (absent included).
inline std::string as_string(const msgpack::object* o) {
  if (!o || o->type != msgpack::type::STR) return "";
  return std::string(o->via.str.ptr, o->via.str.size);
}

// Whether a value is the boolean true (absent and any other type: false).
inline bool is_true(const msgpack::object* o) { return o && o->type == msgpack::type::BOOLEAN && o->via.boolean; }

}  // namespace fednode
