#include "fednode/fl/model_store.h"

#include <filesystem>

#include "fednode/fl/update_codec.h"
#include "fednode/util/blob_id.h"
#include "fednode/util/file_io.h"

namespace fednode::fl {

ModelStore::ModelStore(std::string dir) : dir_(std::move(dir)) {}

Status ModelStore::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::error("cannot create model store " + dir_ + ": " + ec.message());
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    std::error_code ignored;
    if (is_interrupted_write(f.path().filename().string())) std::filesystem::remove(f.path(), ignored);
  }
  return {};
}


Status ModelStore::put_bytes(std::string_view bytes, std::string* id) { return store(bytes, id, true); }

Status ModelStore::put_transient(std::string_view bytes, std::string* id) { return store(bytes, id, false); }

Status ModelStore::store(std::string_view bytes, std::string* id, bool sync) {
  *id = sha256_hex(bytes);
  return store_as(*id, bytes, sync);
}

Status ModelStore::store_as(const std::string& id, std::string_view bytes, bool sync) {
  if (has(id)) return {};  // content-addressed: same id, same bytes
  return write_file_atomically(path_of(id), bytes, sync);
}

Status ModelStore::put_as(const std::string& id, std::string_view bytes, bool transient) {
  if (!valid_id(id)) return Status::error("model id '" + id + "' is not 64 hex digits");
  if (sha256_hex(bytes) != id) return Status::error("data does not hash to id " + id);
  return store_as(id, bytes, !transient);
}

Status ModelStore::put(const ModelWeights& weights, std::string* id) {
  return put_bytes(serialize_weights(weights), id);
}

std::size_t ModelStore::sweep(const std::set<std::string>& keep, std::chrono::seconds older_than) const {
  std::error_code ec;
  std::size_t removed = 0;
  auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = f.path().filename().string();
    std::string id = name.size() > 6 && name.ends_with(".delta") ? name.substr(0, name.size() - 6) : name;
    if (!valid_blob_id(id) || keep.count(id)) continue;
    auto written = f.last_write_time(ec);
    if (ec || now - written < older_than) continue;
    if (std::filesystem::remove(f.path(), ec) && name == id) ++removed;
  }
  return removed;
}

void ModelStore::remove(const std::string& id) const {
  std::error_code ec;
  if (!valid_id(id)) return;
  std::filesystem::remove(path_of(id), ec);
  std::filesystem::remove(path_of(id) + ".delta", ec);
}

Status ModelStore::put_delta(const std::string& id, std::string_view delta) {
  if (!valid_id(id)) return Status::error("model id '" + id + "' is not 64 hex digits");
  if (!delta_base_id(delta)) return Status::error("the change for model " + id.substr(0, 12) + " is not a delta blob");
  return write_file_atomically(path_of(id) + ".delta", delta);
}

Status ModelStore::get_delta(const std::string& id, std::string* delta) const {
  if (!valid_id(id)) return Status::error("model id '" + id + "' is not 64 hex digits");
  std::error_code ec;
  if (!std::filesystem::exists(path_of(id) + ".delta", ec)) return Status::error("no delta kept for model " + id.substr(0, 12));
  if (Status s = read_file(path_of(id) + ".delta", delta); !s.ok()) return s;
  // Damage shows when the receiver's rebuilt model does not hash to id; this only refuses a
  // file that is not a delta at all.
  if (!delta_base_id(*delta)) return Status::error(path_of(id) + ".delta is not a delta blob");
  return {};
}

Status ModelStore::put_from_delta(const std::string& id, std::string_view delta) {
  if (!valid_id(id)) return Status::error("model id '" + id + "' is not 64 hex digits");
  if (has(id)) return {};
  auto base_id = delta_base_id(delta);
  if (!base_id) return Status::error("the change for model " + id.substr(0, 12) + " is not a delta blob");
  if (!has(*base_id)) return Status::error("base model " + base_id->substr(0, 12) + " of the change is not held here");
  ModelWeights base, rebuilt;
  if (Status s = get(*base_id, &base); !s.ok()) return s;
  if (Status s = decode_update(delta, base, *base_id, &rebuilt); !s.ok()) return s;
  std::string bytes = serialize_weights(rebuilt);
  if (sha256_hex(bytes) != id) {
    return Status::error("the change applied to base " + base_id->substr(0, 12) + " does not give model " + id.substr(0, 12));
  }
  if (Status s = store_as(id, bytes, true); !s.ok()) return s;
  return put_delta(id, delta);  // so that this peer can hand the change on
}

bool ModelStore::has(const std::string& id) const {
  return valid_id(id) && std::filesystem::exists(path_of(id));
}

Status ModelStore::get_bytes(const std::string& id, std::string* bytes) const {
  if (!valid_id(id)) return Status::error("model id '" + id + "' is not 64 hex digits");
  if (Status s = read_file(path_of(id), bytes); !s.ok()) return s;
  std::string actual = sha256_hex(*bytes);
  if (actual != id) {
    return Status::error("model blob " + path_of(id) + " is corrupt: its SHA-256 is " + actual);
  }
  return {};
}

std::uint64_t ModelStore::stored_bytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::error_code size_error;
    if (e.is_regular_file(size_error)) total += e.file_size(size_error);
  }
  return total;
}

Status ModelStore::admit(std::size_t bytes) const {
  if (max_store_bytes_ != 0) {
    std::uint64_t used = stored_bytes();
    if (used + bytes > max_store_bytes_) {
      return Status::error("model store " + dir_ + " is full: " + std::to_string(used) + " bytes held, " +
                           std::to_string(bytes) + " more would pass --max-store-bytes " +
                           std::to_string(max_store_bytes_));
    }
  }
  if (min_free_bytes_ != 0) {
    std::error_code ec;
    auto space = std::filesystem::space(dir_, ec);
    if (!ec && space.available < bytes + min_free_bytes_) {
      return Status::error("only " + std::to_string(space.available) + " bytes free under " + dir_ +
                           ": storing " + std::to_string(bytes) + " would leave less than --min-free-bytes " +
                           std::to_string(min_free_bytes_));
    }
  }
  return {};
}

Status ModelStore::get(const std::string& id, ModelWeights* weights) const {
  std::string bytes;
  if (Status s = get_bytes(id, &bytes); !s.ok()) return s;
  if (Status s = deserialize_weights(bytes, weights); !s.ok()) return Status::error(path_of(id) + ": " + s.message());
  return {};
}

}  // namespace fednode::fl
