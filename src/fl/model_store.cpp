#include "fednode/fl/model_store.h"

#include <filesystem>

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
