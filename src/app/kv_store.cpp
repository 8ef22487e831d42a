#include "fednode/app/kv_store.h"

#include "fednode/util/msgpack_limits.h"

#include <msgpack.hpp>

namespace fednode {
namespace {

struct Command {
  std::string action, key, value;  // value: msgpack bytes
};

Status parse(std::string_view bytes, Command* out) {
  msgpack::object_handle h;
  try {
    std::size_t off = 0;
    h = bounded_unpack(bytes.data(), bytes.size(), off, kMaxClientDepth);
  } catch (const std::exception& e) {
    return Status::error(std::string("command is not msgpack: ") + e.what());
  }
  const auto& o = h.get();
  if (o.type != msgpack::type::MAP) return Status::error("command is not a map");
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) continue;
    std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);
    if (k == "action" || k == "key") {
      if (kv.val.type != msgpack::type::STR) return Status::error("field " + std::string(k) + " is not a string");
      (k == "action" ? out->action : out->key).assign(kv.val.via.str.ptr, kv.val.via.str.size);
    } else if (k == "value") {
      msgpack::sbuffer b;
      msgpack::pack(b, kv.val);
      out->value.assign(b.data(), b.size());
    }
  }
  if (out->action != "change" && out->action != "delete") return Status::error("field action must be change or delete");
  if (out->action == "change" && out->value.empty()) return Status::error("field value is missing");
  return {};
}

}  // namespace

Status KvStore::validate(std::string_view command, std::size_t* added) {
  Command c;
  if (Status s = parse(command, &c); !s.ok()) return s;
  if (added) *added = c.action == "change" ? c.key.size() + c.value.size() : 0;
  return {};
}

Status KvStore::apply(std::string_view command) {
  Command c;
  if (Status s = parse(command, &c); !s.ok()) return s;
  auto it = map_.find(c.key);
  if (it != map_.end()) {
    bytes_ -= it->first.size() + it->second.size();
    if (c.action == "delete") map_.erase(it);
  }
  if (c.action == "change") {
    bytes_ += c.key.size() + c.value.size();
    map_[c.key] = std::move(c.value);
  }
  return {};
}

std::string KvStore::change_command(const std::string& key, const std::string& value_msgpack) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(3);
  p.pack("action");
  p.pack("change");
  p.pack("key");
  p.pack(key);
  p.pack("value");
  std::string out(b.data(), b.size());
  return out + value_msgpack;
}

std::string KvStore::delete_command(const std::string& key) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(2);
  p.pack("action");
  p.pack("delete");
  p.pack("key");
  p.pack(key);
  return std::string(b.data(), b.size());
}

std::string KvStore::snapshot() const {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(2);
  p.pack_map(static_cast<std::uint32_t>(map_.size()));
  for (const auto& [k, v] : map_) {
    p.pack(k);
    p.pack_bin(static_cast<std::uint32_t>(v.size()));
    p.pack_bin_body(v.data(), static_cast<std::uint32_t>(v.size()));
  }
  p.pack(members_);
  return std::string(b.data(), b.size());
}

Status KvStore::restore(std::string_view bytes) {
  try {
    std::size_t off = 0;
    auto h = bounded_unpack(bytes.data(), bytes.size(), off, kMaxClientDepth + 4);  // values nest inside the snapshot
    const auto& o = h.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 2 || o.via.array.ptr[0].type != msgpack::type::MAP) {
      return Status::error("snapshot: not a key-value state");
    }
    std::map<std::string, std::string> map;
    std::size_t bytes = 0;
    const auto& m = o.via.array.ptr[0].via.map;
    for (std::uint32_t i = 0; i < m.size; ++i) {
      if (m.ptr[i].key.type != msgpack::type::STR || m.ptr[i].val.type != msgpack::type::BIN) {
        return Status::error("snapshot: bad key-value pair " + std::to_string(i));
      }
      map.emplace(std::string(m.ptr[i].key.via.str.ptr, m.ptr[i].key.via.str.size),
                  std::string(m.ptr[i].val.via.bin.ptr, m.ptr[i].val.via.bin.size));
      bytes += m.ptr[i].key.via.str.size + m.ptr[i].val.via.bin.size;
    }
    std::map<raft::NodeId, std::string> members;
    o.via.array.ptr[1].convert(members);
    map_ = std::move(map);
    bytes_ = bytes;
    members_ = std::move(members);
  } catch (const std::exception& e) {
    return Status::error(std::string("snapshot: ") + e.what());
  }
  return {};
}

}  // namespace fednode
