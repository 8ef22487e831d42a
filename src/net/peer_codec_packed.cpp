#include "peer_codec_packed.h"

#include "fednode/util/varint.h"
#include "peer_codec_fields.h"
#include "peer_codec_values.h"

namespace fednode::net::detail {
namespace {

constexpr std::uint32_t kTypeBits = 4;
static_assert(raft::kMessageTypeCount <= (1 << kTypeBits));

void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_ids(std::string& out, const std::vector<raft::NodeId>& ids) {
  put_varint(out, ids.size());
  for (raft::NodeId id : ids) put_varint(out, id);
}

// Reads the body front to back; every read names the field it was reading when the body ran out
// or held something else.
class Reader {
 public:
  explicit Reader(std::string_view body) : in_(body) {}
  Status number(const char* field, std::uint64_t* v) {
    if (!get_varint(in_, &pos_, v)) return Status::error(std::string("field ") + field + " is cut short or not a varint");
    return {};
  }
  Status bytes(const char* field, std::string* out) {
    std::uint64_t n = 0;
    if (Status s = number(field, &n); !s.ok()) return s;
    if (n > in_.size() - pos_) {
      return Status::error(std::string("field ") + field + " announces " + std::to_string(n) + " bytes, " +
                           std::to_string(in_.size() - pos_) + " are left");
    }
    out->assign(in_.substr(pos_, n));
    pos_ += n;
    return {};
  }
  // A count of items each at least `min_bytes` long: more than the body can hold is refused before
  // anything is allocated for them.
  Status count(const char* field, std::size_t min_bytes, std::uint64_t* n) {
    if (Status s = number(field, n); !s.ok()) return s;
    if (*n > (in_.size() - pos_) / min_bytes) {
      return Status::error(std::string("field ") + field + " counts " + std::to_string(*n) + ", more than the body holds");
    }
    return {};
  }
  Status ids(const char* field, std::vector<raft::NodeId>* out) {
    std::uint64_t n = 0;
    if (Status s = count(field, 1, &n); !s.ok()) return s;
    out->resize(n);
    for (auto& id : *out) {
      if (Status s = number(field, &id); !s.ok()) return s;
    }
    return {};
  }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

Status read_entries(Reader& r, raft::Message* m) {
  std::uint64_t n = 0;
  if (Status s = r.count("entries", 3, &n); !s.ok()) return s;
  if (n == 0) return Status::error("field entries is present but empty");
  m->entries.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    raft::Entry& e = m->entries[i];
    e.index = m->index + 1 + i;  // checked against overflow by the core (message_check)
    std::uint64_t type = 0;
    Status s;
    if (!(s = r.number("entry.term", &e.term)).ok() || !(s = r.number("entry.type", &type)).ok() ||
        !(s = read_entry_type(type, &e.type)).ok() || !(s = r.bytes("entry.data", &e.data)).ok()) {
      return Status::error("entry " + std::to_string(i) + ": " + s.message());
    }
  }
  return {};
}

}  // namespace

std::string encode_packed(const raft::Message& m) {
  std::uint32_t mask = mask_of(m, true);
  std::size_t bytes = 64 + m.data.size();  // the numbers take at most 10 bytes each
  for (const auto& e : m.entries) bytes += 32 + e.data.size();
  std::string out;
  out.reserve(bytes);
  put_varint(out, static_cast<std::uint64_t>(m.type) | std::uint64_t{mask} << kTypeBits);
  for (std::uint32_t b = 0; b < kBitCount; ++b) {
    if (!carries_value(mask, b)) continue;
    switch (static_cast<Bit>(b)) {
      case kTerm: put_varint(out, m.term); break;
      case kCommit: put_varint(out, m.commit); break;
      case kIndex: put_varint(out, m.index); break;
      case kLogTerm: put_varint(out, m.log_term); break;
      case kRejectHint: put_varint(out, m.reject_hint); break;
      case kContext: put_varint(out, m.context); break;
      case kEntries:
        put_varint(out, m.entries.size());
        for (const auto& e : m.entries) {
          put_varint(out, e.term);
          put_varint(out, static_cast<std::uint64_t>(e.type));
          put_bytes(out, e.data);
        }
        break;
      case kSnapshot:
        put_varint(out, m.snapshot.index);
        put_varint(out, m.snapshot.term);
        put_ids(out, m.snapshot.conf.voters);
        put_ids(out, m.snapshot.conf.learners);
        break;
      case kOffset: put_varint(out, m.offset); break;
      case kData: put_bytes(out, m.data); break;
      default: break;
    }
  }
  return out;
}

Status decode_packed(std::string_view body, const SealedOrigin& sealed, raft::Message* out) {
  if (sealed.from == raft::kNoNode) return Status::error("a packed body outside a sealed datagram");
  Reader r(body);
  std::uint64_t head = 0;
  if (Status s = r.number("type", &head); !s.ok()) return s;
  std::uint64_t type = head & ((1u << kTypeBits) - 1), mask = head >> kTypeBits;
  if (type >= raft::kMessageTypeCount) return Status::error("field type " + std::to_string(type) + " is unknown");
  if (mask >> kBitCount || mask & kOriginFields) {
    return Status::error("field mask names fields a packed body does not carry (" + std::to_string(mask) + ")");
  }
  raft::Message m;
  m.type = static_cast<raft::MessageType>(type);
  m.from = sealed.from;
  m.to = sealed.to;
  auto bits = static_cast<std::uint32_t>(mask);
  m.reject = bits & bit(kReject);
  m.done = bits & bit(kDone);
  Status s;
  for (std::uint32_t b = 0; b < kBitCount && s.ok(); ++b) {
    if (!carries_value(bits, b)) continue;
    switch (static_cast<Bit>(b)) {
      case kTerm: s = r.number("term", &m.term); break;
      case kCommit: s = r.number("commit", &m.commit); break;
      case kIndex: s = r.number("index", &m.index); break;
      case kLogTerm: s = r.number("log_term", &m.log_term); break;
      case kRejectHint: s = r.number("reject_hint", &m.reject_hint); break;
      case kContext: s = r.number("context", &m.context); break;
      case kEntries: s = read_entries(r, &m); break;
      case kSnapshot:
        if ((s = r.number("snapshot.index", &m.snapshot.index)).ok() && (s = r.number("snapshot.term", &m.snapshot.term)).ok() &&
            (s = r.ids("snapshot.voters", &m.snapshot.conf.voters)).ok()) {
          s = r.ids("snapshot.learners", &m.snapshot.conf.learners);
        }
        break;
      case kOffset: s = r.number("offset", &m.offset); break;
      case kData: s = r.bytes("data", &m.data); break;
      default: break;
    }
  }
  if (!s.ok()) return s;
  if (r.left() != 0) return Status::error(std::to_string(r.left()) + " trailing bytes");
  *out = std::move(m);
  return {};
}

}  // namespace fednode::net::detail
