#include "fednode/net/peer_codec.h"

#include "fednode/util/msgpack_limits.h"

#include <msgpack.hpp>

#include "fednode/util/msgpack_pack.h"

namespace fednode::net {
namespace {

using Packer = MsgpackPacker;
constexpr std::uint32_t kFields = 17;


class Fields {
 public:
  explicit Fields(const msgpack::object_array& a) : a_(a) {}
  Status u64(std::uint32_t i, const char* name, std::uint64_t* out) const {
    const auto& o = a_.ptr[i];
    if (o.type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("field ") + name + " is not an unsigned integer");
    *out = o.via.u64;
    return {};
  }
  Status boolean(std::uint32_t i, const char* name, bool* out) const {
    const auto& o = a_.ptr[i];
    if (o.type != msgpack::type::BOOLEAN) return Status::error(std::string("field ") + name + " is not a boolean");
    *out = o.via.boolean;
    return {};
  }
  Status bin(const msgpack::object& o, const char* name, std::string* out) const {
    if (o.type != msgpack::type::BIN) return Status::error(std::string("field ") + name + " is not binary");
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return {};
  }
  const msgpack::object& at(std::uint32_t i) const { return a_.ptr[i]; }

 private:
  const msgpack::object_array& a_;
};

Status ids(const msgpack::object& o, const char* name, std::vector<raft::NodeId>* out) {
  if (o.type != msgpack::type::ARRAY) return Status::error(std::string("field ") + name + " is not an array");
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    if (o.via.array.ptr[i].type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("field ") + name + " holds a non-id");
    out->push_back(o.via.array.ptr[i].via.u64);
  }
  return {};
}

}  // namespace

std::string encode_peer_message(const std::string& cluster_id, const raft::Message& m) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(kFields);
  p.pack(kPeerProtocolVersion);
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

Status decode_peer_message(std::string_view datagram, const std::string& cluster_id, raft::Message* out) {
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
  if (a.ptr[0].type != msgpack::type::POSITIVE_INTEGER || a.ptr[0].via.u64 != kPeerProtocolVersion) {
    return Status::error("unsupported protocol version (field version)");
  }
  if (a.size != kFields) return Status::error("expected " + std::to_string(kFields) + " fields, got " + std::to_string(a.size));
  if (a.ptr[1].type != msgpack::type::STR) return Status::error("field cluster_id is not a string");
  std::string_view cluster(a.ptr[1].via.str.ptr, a.ptr[1].via.str.size);
  if (cluster != cluster_id) return Status::error("wrong cluster '" + std::string(cluster) + "'");
  Fields f(a);
  raft::Message m;
  std::uint64_t type;
  if (Status s = f.u64(2, "type", &type); !s.ok()) return s;
  if (type >= raft::kMessageTypeCount) return Status::error("field type " + std::to_string(type) + " is unknown");
  m.type = static_cast<raft::MessageType>(type);
  Status s;
  if (!(s = f.u64(3, "from", &m.from)).ok() || !(s = f.u64(4, "to", &m.to)).ok() ||
      !(s = f.u64(5, "term", &m.term)).ok() || !(s = f.u64(6, "index", &m.index)).ok() ||
      !(s = f.u64(7, "log_term", &m.log_term)).ok() || !(s = f.u64(8, "commit", &m.commit)).ok() ||
      !(s = f.boolean(9, "reject", &m.reject)).ok() || !(s = f.u64(10, "reject_hint", &m.reject_hint)).ok() ||
      !(s = f.u64(11, "context", &m.context)).ok()) {
    return s;
  }
  if (m.from == raft::kNoNode) return Status::error("field from is 0");
  const auto& entries = f.at(12);
  if (entries.type != msgpack::type::ARRAY) return Status::error("field entries is not an array");
  for (std::uint32_t i = 0; i < entries.via.array.size; ++i) {
    const auto& e = entries.via.array.ptr[i];
    if (e.type != msgpack::type::ARRAY || e.via.array.size != 4) return Status::error("entry " + std::to_string(i) + " is not a 4-array");
    Fields ef(e.via.array);
    raft::Entry entry;
    std::uint64_t etype;
    if (!(s = ef.u64(0, "entry.index", &entry.index)).ok() || !(s = ef.u64(1, "entry.term", &entry.term)).ok() ||
        !(s = ef.u64(2, "entry.type", &etype)).ok() || !(s = ef.bin(ef.at(3), "entry.data", &entry.data)).ok()) {
      return s;
    }
    if (etype > 1) return Status::error("field entry.type " + std::to_string(etype) + " is unknown");
    entry.type = static_cast<raft::EntryType>(etype);
    m.entries.push_back(std::move(entry));
  }
  const auto& snap = f.at(13);
  if (snap.type != msgpack::type::ARRAY || snap.via.array.size != 4) return Status::error("field snapshot is not a 4-array");
  Fields sf(snap.via.array);
  if (!(s = sf.u64(0, "snapshot.index", &m.snapshot.index)).ok() || !(s = sf.u64(1, "snapshot.term", &m.snapshot.term)).ok() ||
      !(s = ids(sf.at(2), "snapshot.voters", &m.snapshot.conf.voters)).ok() ||
      !(s = ids(sf.at(3), "snapshot.learners", &m.snapshot.conf.learners)).ok()) {
    return s;
  }
  if (!(s = f.u64(14, "offset", &m.offset)).ok() || !(s = f.bin(f.at(15), "data", &m.data)).ok() ||
      !(s = f.boolean(16, "done", &m.done)).ok()) {
    return s;
  }
  *out = std::move(m);
  return {};
}

}  // namespace fednode::net
