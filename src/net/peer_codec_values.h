#pragma once
// Typed reads of single msgpack values for the peer codecs (v1 and compact): each names the
// field at fault.
#include <msgpack.hpp>

#include <string>
#include <vector>

#include "fednode/raft/types.h"
#include "fednode/util/status.h"

namespace fednode::net::detail {

inline Status read_u64(const msgpack::object& o, const char* name, std::uint64_t* out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("field ") + name + " is not an unsigned integer");
  *out = o.via.u64;
  return {};
}

inline Status read_bool(const msgpack::object& o, const char* name, bool* out) {
  if (o.type != msgpack::type::BOOLEAN) return Status::error(std::string("field ") + name + " is not a boolean");
  *out = o.via.boolean;
  return {};
}

inline Status read_bin(const msgpack::object& o, const char* name, std::string* out) {
  if (o.type != msgpack::type::BIN) return Status::error(std::string("field ") + name + " is not binary");
  out->assign(o.via.bin.ptr, o.via.bin.size);
  return {};
}

inline Status read_ids(const msgpack::object& o, const char* name, std::vector<raft::NodeId>* out) {
  if (o.type != msgpack::type::ARRAY) return Status::error(std::string("field ") + name + " is not an array");
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    if (o.via.array.ptr[i].type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("field ") + name + " holds a non-id");
    out->push_back(o.via.array.ptr[i].via.u64);
  }
  return {};
}

inline Status read_entry_type(std::uint64_t v, raft::EntryType* out) {
  if (v > 1) return Status::error("field entry.type " + std::to_string(v) + " is unknown");
  *out = static_cast<raft::EntryType>(v);
  return {};
}

}  // namespace fednode::net::detail
