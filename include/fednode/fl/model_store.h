#pragma once
// ModelStore: content-addressed model blobs under <data-dir>/models/<sha256 hex>. A blob is
// written atomically and durably, and verified against its id on every read, so a damaged file
// is reported (naming it), never served.
#include <chrono>
#include <set>
#include <string>
#include <string_view>

#include "fednode/fl/model_weights.h"
#include "fednode/util/blob_store.h"

namespace fednode::fl {

class ModelStore : public BlobStore {
 public:
  explicit ModelStore(std::string dir);
  Status init();  // creates the directory

  // Stores canonical model bytes; returns their id.
  Status put_bytes(std::string_view bytes, std::string* id) override;
  // No fsync: read back, a blob torn by a crash fails its hash check like any damaged one.
  Status put_transient(std::string_view bytes, std::string* id) override;
  // Hashes once: the check against `id` is the id it is stored under.
  Status put_as(const std::string& id, std::string_view bytes, bool transient) override;
  Status put(const ModelWeights& weights, std::string* id);
  // Reads and verifies a blob.
  Status get_bytes(const std::string& id, std::string* bytes) const override;
  Status get(const std::string& id, ModelWeights* weights) const;
  bool has(const std::string& id) const;
  // Deletes a blob (trainers' updates once aggregated); absent is fine.
  void remove(const std::string& id) const;
  // Deletes every blob (and its .delta) not in `keep` and last written more than `older_than`
  // ago: what a run no longer names (named_blobs). The age spares what is under way: an update or
  // a model arriving for a round not yet committed. Returns how many blobs went.
  std::size_t sweep(const std::set<std::string>& keep, std::chrono::seconds older_than) const;
  std::string path_of(const std::string& id) const { return dir_ + "/" + id; }

  // What blobs arriving from the network may use: the store's total size, and the free space
  // they must leave on its file system (the Raft log needs it). 0 = no bound.
  void set_quota(std::uint64_t max_store_bytes, std::uint64_t min_free_bytes) {
    max_store_bytes_ = max_store_bytes;
    min_free_bytes_ = min_free_bytes;
  }
  Status admit(std::size_t bytes) const override;
  std::uint64_t stored_bytes() const;

  // Compressed broadcast (--update-encoding fp16|int8): the aggregator keeps the new global
  // model also as its change from the base model (an FNU1 blob, update_codec.h), in <id>.delta;
  // peers that hold the base fetch or receive the change and rebuild the model bit for bit.
  Status put_delta(const std::string& id, std::string_view delta);
  Status get_delta(const std::string& id, std::string* delta) const override;
  Status put_from_delta(const std::string& id, std::string_view delta) override;

  static bool valid_id(std::string_view id) { return valid_blob_id(id); }

 private:
  Status store(std::string_view bytes, std::string* id, bool sync);
  Status store_as(const std::string& id, std::string_view bytes, bool sync);  // bytes hash to id

  std::string dir_;
  std::uint64_t max_store_bytes_ = 0, min_free_bytes_ = 0;
};

}  // namespace fednode::fl
