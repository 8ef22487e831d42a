#include "fednode/net/peer_codec.h"

#include "fednode/util/msgpack_limits.h"

#include <msgpack.hpp>

#include "fednode/util/msgpack_pack.h"
#include "peer_codec_compact.h"
#include "peer_codec_packed.h"
#include "peer_codec_values.h"

namespace fednode::net {
namespace {

using Packer = MsgpackPacker;
constexpr std::uint32_t kFields = 17;

using detail::read_bin;
using detail::read_bool;
using detail::read_ids;
using detail::read_u64;

std::string encode_v1(const std::string& cluster_id, const raft::Message& m) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(kFields);
  p.pack(kPeerProtocolV1);
  p.pack(cluster_id);
  p.pack(static_cast<std::uint8_t>(m.type));
  p.pack(m.from);
  p.pack(m.to);
  p.pack(m.term);
  p.pack(m.index);
  p.pack(m.log_term);
  p.pack(m.commit);
  p.pack(m.reject);
  p.pack(m.reject_hint);
  p.pack(m.context);
  p.pack_array(static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    p.pack_array(4);
    p.pack(e.index);
    p.pack(e.term);
    p.pack(static_cast<std::uint8_t>(e.type));
    pack_bin(p, e.data);
  }
  p.pack_array(4);
  p.pack(m.snapshot.index);
  p.pack(m.snapshot.term);
  pack_u64_array(p, m.snapshot.conf.voters);
  pack_u64_array(p, m.snapshot.conf.learners);
  p.pack(m.offset);
  pack_bin(p, m.data);
  p.pack(m.done);
  return std::string(buf.data(), buf.size());
}

Status decode_v1(const msgpack::object_array& a, const std::string& cluster_id, raft::Message* out) {
  if (a.size != kFields) return Status::error("expected " + std::to_string(kFields) + " fields, got " + std::to_string(a.size));
  if (a.ptr[1].type != msgpack::type::STR) return Status::error("field cluster_id is not a string");
  std::string_view cluster(a.ptr[1].via.str.ptr, a.ptr[1].via.str.size);
  if (cluster != cluster_id) return Status::error("wrong cluster '" + std::string(cluster) + "'");
  const msgpack::object* f = a.ptr;
  raft::Message m;
  std::uint64_t type;
  if (Status s = read_u64(f[2], "type", &type); !s.ok()) return s;
  if (type >= raft::kMessageTypeCount) return Status::error("field type " + std::to_string(type) + " is unknown");
  m.type = static_cast<raft::MessageType>(type);
  Status s;
  if (!(s = read_u64(f[3], "from", &m.from)).ok() || !(s = read_u64(f[4], "to", &m.to)).ok() ||
      !(s = read_u64(f[5], "term", &m.term)).ok() || !(s = read_u64(f[6], "index", &m.index)).ok() ||
      !(s = read_u64(f[7], "log_term", &m.log_term)).ok() || !(s = read_u64(f[8], "commit", &m.commit)).ok() ||
      !(s = read_bool(f[9], "reject", &m.reject)).ok() || !(s = read_u64(f[10], "reject_hint", &m.reject_hint)).ok() ||
      !(s = read_u64(f[11], "context", &m.context)).ok()) {
    return s;
  }
  if (m.from == raft::kNoNode) return Status::error("field from is 0");
  const auto& entries = f[12];
  if (entries.type != msgpack::type::ARRAY) return Status::error("field entries is not an array");
  for (std::uint32_t i = 0; i < entries.via.array.size; ++i) {
    const auto& e = entries.via.array.ptr[i];
    if (e.type != msgpack::type::ARRAY || e.via.array.size != 4) return Status::error("entry " + std::to_string(i) + " is not a 4-array");
    const msgpack::object* ef = e.via.array.ptr;
    raft::Entry entry;
    std::uint64_t etype;
    if (!(s = read_u64(ef[0], "entry.index", &entry.index)).ok() || !(s = read_u64(ef[1], "entry.term", &entry.term)).ok() ||
        !(s = read_u64(ef[2], "entry.type", &etype)).ok() || !(s = detail::read_entry_type(etype, &entry.type)).ok() ||
        !(s = read_bin(ef[3], "entry.data", &entry.data)).ok()) {
      return s;
    }
    m.entries.push_back(std::move(entry));
  }
  const auto& snap = f[13];
  if (snap.type != msgpack::type::ARRAY || snap.via.array.size != 4) return Status::error("field snapshot is not a 4-array");
  const msgpack::object* sf = snap.via.array.ptr;
  if (!(s = read_u64(sf[0], "snapshot.index", &m.snapshot.index)).ok() || !(s = read_u64(sf[1], "snapshot.term", &m.snapshot.term)).ok() ||
      !(s = read_ids(sf[2], "snapshot.voters", &m.snapshot.conf.voters)).ok() ||
      !(s = read_ids(sf[3], "snapshot.learners", &m.snapshot.conf.learners)).ok()) {
    return s;
  }
  if (!(s = read_u64(f[14], "offset", &m.offset)).ok() || !(s = read_bin(f[15], "data", &m.data)).ok() ||
      !(s = read_bool(f[16], "done", &m.done)).ok()) {
    return s;
  }
  *out = std::move(m);
  return {};
}

}  // namespace

std::string encode_peer_message(const std::string& cluster_id, const raft::Message& m, PeerEncoding encoding) {
  if (encoding == PeerEncoding::kV1) return encode_v1(cluster_id, m);
  if (encoding == PeerEncoding::kPacked) return detail::encode_packed(m);
  return detail::encode_compact(cluster_id, m, encoding == PeerEncoding::kCompactSealed);
}

Status decode_peer_message(std::string_view datagram, const std::string& cluster_id, raft::Message* out,
                           const SealedOrigin& sealed, std::uint8_t* version) {
  msgpack::object_handle handle;
  try {
    std::size_t offset = 0;
    handle = bounded_unpack(datagram.data(), datagram.size(), offset);
    if (offset != datagram.size()) return Status::error(std::to_string(datagram.size() - offset) + " trailing bytes");
  } catch (const std::exception& e) {
    return Status::error(std::string("not msgpack: ") + e.what());
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 2) return Status::error("not a peer message array");
  const auto& a = root.via.array;
  std::uint64_t v = a.ptr[0].type == msgpack::type::POSITIVE_INTEGER ? a.ptr[0].via.u64 : 0;
  Status s;
  if (v == kPeerProtocolV1) {
    s = decode_v1(a, cluster_id, out);
  } else if (v == kPeerProtocolCompact) {
    s = detail::decode_compact(a, cluster_id, sealed, out);
  } else {
    return Status::error("unsupported protocol version (field version)");
  }
  if (s.ok() && version) *version = static_cast<std::uint8_t>(v);
  return s;
}

Status decode_packed_peer_message(std::string_view body, const SealedOrigin& sealed, raft::Message* out) {
  return detail::decode_packed(body, sealed, out);
}

}  // namespace fednode::net
