#include "fednode/storage/raft_codec.h"

#include "fednode/util/msgpack_limits.h"

#include <msgpack.hpp>

#include "fednode/util/msgpack_pack.h"

namespace fednode::storage {
namespace {

using Packer = MsgpackPacker;

// Parses exactly one msgpack array of `size` elements; nullopt on anything else (trailing
// bytes included).
std::optional<msgpack::object_handle> unpack_array(std::string_view bytes, std::uint32_t size) {
  try {
    std::size_t offset = 0;
    auto handle = bounded_unpack(bytes.data(), bytes.size(), offset);
    if (offset != bytes.size()) return std::nullopt;
    const msgpack::object& o = handle.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != size) return std::nullopt;
    return handle;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool get_u64(const msgpack::object& o, std::uint64_t* out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  *out = o.via.u64;
  return true;
}

bool get_bin(const msgpack::object& o, std::string* out) {
  if (o.type != msgpack::type::BIN) return false;
  out->assign(o.via.bin.ptr, o.via.bin.size);
  return true;
}

bool get_ids(const msgpack::object& o, std::vector<raft::NodeId>* out) {
  if (o.type != msgpack::type::ARRAY) return false;
  out->clear();
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    std::uint64_t id;
    if (!get_u64(o.via.array.ptr[i], &id)) return false;
    out->push_back(id);
  }
  return true;
}

}  // namespace

std::string encode_entry(const raft::Entry& e) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(4);
  p.pack(e.index);
  p.pack(e.term);
  p.pack(static_cast<std::uint8_t>(e.type));
  pack_bin(p, e.data);
  return std::string(buf.data(), buf.size());
}

std::optional<raft::Entry> decode_entry(std::string_view bytes) {
  auto h = unpack_array(bytes, 4);
  if (!h) return std::nullopt;
  const auto* a = h->get().via.array.ptr;
  raft::Entry e;
  std::uint64_t type;
  if (!get_u64(a[0], &e.index) || !get_u64(a[1], &e.term) || !get_u64(a[2], &type) ||
      type > static_cast<std::uint8_t>(raft::EntryType::kConfChange) || !get_bin(a[3], &e.data)) {
    return std::nullopt;
  }
  e.type = static_cast<raft::EntryType>(type);
  return e;
}

std::string encode_hard_state(const raft::HardState& hs) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(3);
  p.pack(hs.term);
  p.pack(hs.vote);
  p.pack(hs.commit);
  return std::string(buf.data(), buf.size());
}

std::optional<raft::HardState> decode_hard_state(std::string_view bytes) {
  auto h = unpack_array(bytes, 3);
  if (!h) return std::nullopt;
  const auto* a = h->get().via.array.ptr;
  raft::HardState hs;
  if (!get_u64(a[0], &hs.term) || !get_u64(a[1], &hs.vote) || !get_u64(a[2], &hs.commit)) return std::nullopt;
  return hs;
}

std::string encode_snapshot(const raft::Snapshot& s) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(5);
  p.pack(s.meta.index);
  p.pack(s.meta.term);
  pack_u64_array(p, s.meta.conf.voters);
  pack_u64_array(p, s.meta.conf.learners);
  pack_bin(p, s.data);
  return std::string(buf.data(), buf.size());
}

std::optional<raft::Snapshot> decode_snapshot(std::string_view bytes) {
  auto h = unpack_array(bytes, 5);
  if (!h) return std::nullopt;
  const auto* a = h->get().via.array.ptr;
  raft::Snapshot s;
  if (!get_u64(a[0], &s.meta.index) || !get_u64(a[1], &s.meta.term) ||
      !get_ids(a[2], &s.meta.conf.voters) || !get_ids(a[3], &s.meta.conf.learners) ||
      !get_bin(a[4], &s.data)) {
    return std::nullopt;
  }
  return s;
}

}  // namespace fednode::storage
