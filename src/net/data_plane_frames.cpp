#include "data_plane_frames.h"

#include "fednode/util/big_endian.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/msgpack_limits.h"
#include "fednode/util/msgpack_pack.h"

namespace fednode::net {
namespace frames {

std::string frame(const std::string& payload) {
  std::string out;
  out.reserve(4 + payload.size());
  put_be(out, payload.size(), 4);
  return out + payload;
}

std::uint32_t frame_length(const unsigned char* h) { return static_cast<std::uint32_t>(get_be(h, 4)); }


std::string answer(bool ok, const std::string& reason_or_data, bool with_data, bool delta) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(delta ? 3 : 2);
  p.pack("ok");
  p.pack(ok);
  if (ok && with_data) {
    p.pack("data");
    pack_bin(p, reason_or_data);
  } else {
    p.pack(ok ? "data" : "reason");
    p.pack(reason_or_data);
  }
  if (delta) {
    p.pack("delta");
    p.pack(true);
  }
  return std::string(b.data(), b.size());
}

std::string bin_field(const msgpack::object& map, const char* key) {
  const msgpack::object* o = map_field(map, key);
  if (!o || o->type != msgpack::type::BIN) return "";
  return std::string(o->via.bin.ptr, o->via.bin.size);
}

std::string request(const char* op, const std::string& id, const std::string* data, const UpdateNotice* notice,
                    bool delta, bool parts) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  bool declined = notice && !notice->declined.empty();
  bool evaluation = notice && notice->evaluation;
  p.pack_map((data ? 3 : 2) + (notice ? 7 : 0) + (delta ? 1 : 0) + (declined ? 1 : 0) + (evaluation ? 2 : 0) +
             (parts ? 1 : 0));
  if (parts) {
    p.pack("parts");
    p.pack(true);
  }
  if (declined) {
    p.pack("reason");
    p.pack(notice->declined);
  }
  if (evaluation) {
    p.pack("loss");
    p.pack(notice->loss);
    p.pack("metric");
    p.pack(notice->metric);
  }
  if (delta) {
    p.pack("delta");
    p.pack(true);
  }
  if (notice) {
    p.pack("round");
    p.pack(notice->round);
    p.pack("term");
    p.pack(notice->term);
    p.pack("attempt");
    p.pack(notice->attempt);
    p.pack("node");
    p.pack(notice->node);
    p.pack("samples");
    p.pack(notice->samples);
    p.pack("train_loss");
    p.pack(notice->train_loss);
    p.pack("train_seconds");
    p.pack(notice->train_seconds);
  }
  p.pack("op");
  p.pack(op);
  p.pack("id");
  p.pack(id);
  if (data) {
    p.pack("data");
    pack_bin(p, *data);
  }
  return std::string(b.data(), b.size());
}

std::string range_request(const std::string& id, std::uint64_t offset, std::uint64_t length, bool delta) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(delta ? 5 : 4);
  if (delta) {
    p.pack("delta");
    p.pack(true);
  }
  p.pack("op");
  p.pack("fetch");
  p.pack("id");
  p.pack(id);
  p.pack("offset");
  p.pack(offset);
  p.pack("length");
  p.pack(length);
  return std::string(b.data(), b.size());
}

std::string part_request(const std::string& id, std::uint64_t size, std::uint64_t offset, std::string_view data) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(5);
  p.pack("op");
  p.pack("part");
  p.pack("id");
  p.pack(id);
  p.pack("size");
  p.pack(size);
  p.pack("offset");
  p.pack(offset);
  p.pack("data");
  p.pack_bin(static_cast<std::uint32_t>(data.size()));
  p.pack_bin_body(data.data(), static_cast<std::uint32_t>(data.size()));
  return std::string(b.data(), b.size());
}

std::string part_answer(std::uint64_t have) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(2);
  p.pack("ok");
  p.pack(true);
  p.pack("have");
  p.pack(have);
  return std::string(b.data(), b.size());
}

std::string range_answer(std::string_view slice, std::uint64_t offset, std::uint64_t size) {
  msgpack::sbuffer b;
  MsgpackPacker p(b);
  p.pack_map(4);
  p.pack("ok");
  p.pack(true);
  p.pack("data");
  p.pack_bin(static_cast<std::uint32_t>(slice.size()));
  p.pack_bin_body(slice.data(), static_cast<std::uint32_t>(slice.size()));
  p.pack("offset");
  p.pack(offset);
  p.pack("size");
  p.pack(size);
  return std::string(b.data(), b.size());
}

}  // namespace frames

namespace {

bool parse_number(const msgpack::object& req, const char* k, double* out) {
  const msgpack::object* o = map_field(req, k);
  if (!o) return false;
  if (o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64) *out = o->via.f64;
  else if (o->type == msgpack::type::POSITIVE_INTEGER) *out = static_cast<double>(o->via.u64);
  else return false;
  return true;
}

bool parse_notice(const msgpack::object& req, UpdateNotice* n) {
  auto u64 = [&](const char* k, std::uint64_t* out) {
    const msgpack::object* o = map_field(req, k);
    if (!o || o->type != msgpack::type::POSITIVE_INTEGER) return false;
    *out = o->via.u64;
    return true;
  };
  auto f64 = [&](const char* k, double* out) { return parse_number(req, k, out); };
  return u64("round", &n->round) && u64("term", &n->term) && u64("attempt", &n->attempt) && u64("node", &n->node) &&
         u64("samples", &n->samples) && f64("train_loss", &n->train_loss) && f64("train_seconds", &n->train_seconds);
}

}  // namespace

using frames::bin_field;

Status decode_data_request(std::string_view body, DataRequest* out) {
  msgpack::object_handle h;
  try {
    std::size_t off = 0;
    h = bounded_unpack(body.data(), body.size(), off);
    if (off != body.size()) return Status::error("trailing bytes in frame");
  } catch (const std::exception& e) {
    return Status::error(std::string("frame is not msgpack: ") + e.what());
  }
  const auto& req = h.get();
  out->op = as_string(map_field(req, "op"));
  out->id = as_string(map_field(req, "id"));
  if (req.type != msgpack::type::MAP ||
      (out->op != "fetch" && out->op != "push" && out->op != "update" && out->op != "part" && out->op != "decline" &&
       out->op != "evaluation")) {
    return Status::error("frame has no op fetch|push|update|part|decline|evaluation");
  }
  if (out->op == "part") {
    for (auto [name, field] : {std::pair{"offset", &out->offset}, std::pair{"size", &out->size}}) {
      const msgpack::object* o = map_field(req, name);
      if (!o || o->type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("part frame needs an unsigned ") + name);
      *field = o->via.u64;
    }
    out->data = bin_field(req, "data");
    if (out->size == 0 || out->offset > out->size || out->data.size() > out->size - out->offset) {
      return Status::error("part frame's " + std::to_string(out->data.size()) + " bytes at offset " +
                           std::to_string(out->offset) + " do not fit an upload of " + std::to_string(out->size));
    }
    return {};
  }
  if (out->op == "evaluation") {
    out->notice.evaluation = true;
    if (!parse_notice(req, &out->notice) || !parse_number(req, "loss", &out->notice.loss) ||
        !parse_number(req, "metric", &out->notice.metric)) {
      return Status::error("evaluation frame needs unsigned round and node, samples, and numeric loss and metric");
    }
    if (!valid_blob_id(out->id)) return Status::error("evaluation frame's id must be the model's 64 hex digits");
    return {};
  }
  if (out->op == "decline") {
    out->notice.declined = as_string(map_field(req, "reason")).substr(0, kMaxDeclineReason);
    if (out->notice.declined.empty()) return Status::error("decline frame needs a reason");
    if (!parse_notice(req, &out->notice)) return Status::error("decline frame needs unsigned round, term, attempt and node");
    return {};
  }
  out->delta = is_true(map_field(req, "delta"));
  if (out->op == "update" && out->delta) return Status::error("an update frame cannot be a delta");
  if (out->op == "fetch") {
    for (auto [name, field] : {std::pair{"offset", &out->offset}, std::pair{"length", &out->length}}) {
      const msgpack::object* o = map_field(req, name);
      if (!o) continue;
      if (o->type != msgpack::type::POSITIVE_INTEGER) return Status::error(std::string("fetch frame's ") + name + " must be unsigned");
      *field = o->via.u64;
    }
    if (out->length > kMaxRange) {
      return Status::error("fetch frame asks for a range of " + std::to_string(out->length) + " bytes, more than " +
                           std::to_string(kMaxRange));
    }
    if (out->offset != 0 && out->length == 0) return Status::error("fetch frame has an offset but no length");
    return {};
  }
  out->data = bin_field(req, "data");
  out->parts = (out->op == "update" || out->op == "push") && is_true(map_field(req, "parts"));
  if (out->parts && (!out->data.empty() || out->delta)) {
    return Status::error(std::string(out->op == "update" ? "an update" : "a push") + " frame with parts carries no data and no delta");
  }
  if (out->op == "update" && !parse_notice(req, &out->notice)) {
    return Status::error("update frame needs unsigned round, term, attempt, node, samples and numeric train_loss");
  }
  return {};
}

}  // namespace fednode::net
