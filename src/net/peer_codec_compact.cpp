#include "peer_codec_compact.h"

#include "fednode/util/msgpack_pack.h"
#include "peer_codec_fields.h"
#include "peer_codec_values.h"

namespace fednode::net::detail {
namespace {

constexpr std::size_t kHeadFields = 3;  // version, type, mask

}  // namespace

std::string encode_compact(const std::string& cluster_id, const raft::Message& m, bool sealed) {
  std::uint32_t mask = mask_of(m, sealed);
  msgpack::sbuffer buf;
  MsgpackPacker p(buf);
  p.pack_array(static_cast<std::uint32_t>(kHeadFields + values_in(mask)));
  p.pack(kPeerProtocolCompact);
  p.pack(static_cast<std::uint8_t>(m.type));
  p.pack(mask);
  for (std::uint32_t b = 0; b < kBitCount; ++b) {
    if (!carries_value(mask, b)) continue;
    switch (static_cast<Bit>(b)) {
      case kTerm: p.pack(m.term); break;
      case kCommit: p.pack(m.commit); break;
      case kIndex: p.pack(m.index); break;
      case kLogTerm: p.pack(m.log_term); break;
      case kRejectHint: p.pack(m.reject_hint); break;
      case kContext: p.pack(m.context); break;
      case kEntries:
        p.pack_array(static_cast<std::uint32_t>(m.entries.size()));
        for (const auto& e : m.entries) {
          p.pack_array(3);
          p.pack(e.term);
          p.pack(static_cast<std::uint8_t>(e.type));
          pack_bin(p, e.data);
        }
        break;
      case kSnapshot:
        p.pack_array(4);
        p.pack(m.snapshot.index);
        p.pack(m.snapshot.term);
        pack_u64_array(p, m.snapshot.conf.voters);
        pack_u64_array(p, m.snapshot.conf.learners);
        break;
      case kOffset: p.pack(m.offset); break;
      case kData: pack_bin(p, m.data); break;
      case kFrom: p.pack(m.from); break;
      case kTo: p.pack(m.to); break;
      case kCluster: p.pack(cluster_id); break;
      default: break;
    }
  }
  return std::string(buf.data(), buf.size());
}

Status decode_compact(const msgpack::object_array& a, const std::string& cluster_id, const SealedOrigin& sealed,
                      raft::Message* out) {
  if (a.size < kHeadFields) return Status::error("expected at least 3 fields, got " + std::to_string(a.size));
  raft::Message m;
  std::uint64_t type = 0, mask = 0;
  Status s;
  if (!(s = read_u64(a.ptr[1], "type", &type)).ok() || !(s = read_u64(a.ptr[2], "mask", &mask)).ok()) return s;
  if (type >= raft::kMessageTypeCount) return Status::error("field type " + std::to_string(type) + " is unknown");
  m.type = static_cast<raft::MessageType>(type);
  if (mask >> kBitCount) return Status::error("field mask names unknown fields (" + std::to_string(mask) + ")");
  auto bits = static_cast<std::uint32_t>(mask);
  if (a.size != kHeadFields + values_in(bits)) {
    return Status::error("field mask announces " + std::to_string(values_in(bits)) + " values, the array holds " +
                         std::to_string(a.size - kHeadFields));
  }
  bool sealed_origin = sealed.from != raft::kNoNode;
  if (!sealed_origin && (bits & (bit(kFrom) | bit(kCluster))) != (bit(kFrom) | bit(kCluster))) {
    return Status::error("an unsealed message must name its sender and cluster (fields from, cluster_id)");
  }
  m.from = sealed.from;
  m.to = sealed.to;
  m.reject = bits & bit(kReject);
  m.done = bits & bit(kDone);
  const msgpack::object* v = a.ptr + kHeadFields;
  for (std::uint32_t b = 0; b < kBitCount && s.ok(); ++b) {
    if (!carries_value(bits, b)) continue;
    const msgpack::object& o = *v++;
    switch (static_cast<Bit>(b)) {
      case kTerm: s = read_u64(o, "term", &m.term); break;
      case kCommit: s = read_u64(o, "commit", &m.commit); break;
      case kIndex: s = read_u64(o, "index", &m.index); break;
      case kLogTerm: s = read_u64(o, "log_term", &m.log_term); break;
      case kRejectHint: s = read_u64(o, "reject_hint", &m.reject_hint); break;
      case kContext: s = read_u64(o, "context", &m.context); break;
      case kEntries:
        if (o.type != msgpack::type::ARRAY) {
          s = Status::error("field entries is not an array");
          break;
        }
        for (std::uint32_t i = 0; i < o.via.array.size && s.ok(); ++i) {
          const auto& e = o.via.array.ptr[i];
          if (e.type != msgpack::type::ARRAY || e.via.array.size != 3) {
            s = Status::error("entry " + std::to_string(i) + " is not a 3-array");
            break;
          }
          raft::Entry entry;
          entry.index = m.index + 1 + i;  // checked against overflow by the core (message_check)
          std::uint64_t etype = 0;
          if ((s = read_u64(e.via.array.ptr[0], "entry.term", &entry.term)).ok() &&
              (s = read_u64(e.via.array.ptr[1], "entry.type", &etype)).ok() && (s = read_entry_type(etype, &entry.type)).ok() &&
              (s = read_bin(e.via.array.ptr[2], "entry.data", &entry.data)).ok()) {
            m.entries.push_back(std::move(entry));
          }
        }
        break;
      case kSnapshot:
        if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) {
          s = Status::error("field snapshot is not a 4-array");
          break;
        }
        if ((s = read_u64(o.via.array.ptr[0], "snapshot.index", &m.snapshot.index)).ok() &&
            (s = read_u64(o.via.array.ptr[1], "snapshot.term", &m.snapshot.term)).ok() &&
            (s = read_ids(o.via.array.ptr[2], "snapshot.voters", &m.snapshot.conf.voters)).ok()) {
          s = read_ids(o.via.array.ptr[3], "snapshot.learners", &m.snapshot.conf.learners);
        }
        break;
      case kOffset: s = read_u64(o, "offset", &m.offset); break;
      case kData: s = read_bin(o, "data", &m.data); break;
      case kFrom: s = read_u64(o, "from", &m.from); break;
      case kTo: s = read_u64(o, "to", &m.to); break;
      case kCluster:
        if (o.type != msgpack::type::STR) {
          s = Status::error("field cluster_id is not a string");
        } else if (std::string_view(o.via.str.ptr, o.via.str.size) != cluster_id) {
          s = Status::error("wrong cluster '" + std::string(o.via.str.ptr, o.via.str.size) + "'");
        }
        break;
      default: break;
    }
  }
  if (!s.ok()) return s;
  if (m.from == raft::kNoNode) return Status::error("field from is 0");
  if (sealed_origin && m.from != sealed.from) return Status::error("the message names another sender than the one authenticated");
  *out = std::move(m);
  return {};
}

}  // namespace fednode::net::detail
