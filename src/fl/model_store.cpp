#include "fednode/fl/model_store.h"

#include <filesystem>

#include "fednode/util/file_io.h"

namespace fednode::fl {

ModelStore::ModelStore(std::string dir) : dir_(std::move(dir)) {}

Status ModelStore::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::error("cannot create model store " + dir_ + ": " + ec.message());
  return {};
}


Status ModelStore::put_bytes(std::string_view bytes, std::string* id) {
  *id = sha256_hex(bytes);
  if (has(*id)) return {};  // content-addressed: same id, same bytes
  return write_file_atomically(path_of(*id), bytes);
}

Status ModelStore::put(const ModelWeights& weights, std::string* id) {
  return put_bytes(serialize_weights(weights), id);
}

void ModelStore::remove(const std::string& id) const {
  std::error_code ec;
  if (valid_id(id)) std::filesystem::remove(path_of(id), ec);
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

Status ModelStore::get(const std::string& id, ModelWeights* weights) const {
  std::string bytes;
  if (Status s = get_bytes(id, &bytes); !s.ok()) return s;
  if (Status s = deserialize_weights(bytes, weights); !s.ok()) return Status::error(path_of(id) + ": " + s.message());
  return {};
}

}  // namespace fednode::fl
