#pragma once
// What the data plane serves and fills: content-addressed blobs (util/blob_id.h). The FL
// engine's model store implements it; the data plane knows nothing of models. It lives in util
// because both sides use it and fl never includes net.
#include <cstddef>
#include <string>
#include <string_view>

#include "fednode/util/blob_id.h"
#include "fednode/util/status.h"

namespace fednode {

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Reads a blob and checks it against its id.
  virtual Status get_bytes(const std::string& id, std::string* bytes) const = 0;
  // Stores bytes durably under their id.
  virtual Status put_bytes(std::string_view bytes, std::string* id) = 0;
  // Stores bytes that need not survive a crash (a trainer's update: the round is run again
  // after a crash of its aggregator), without waiting for the disk.
  virtual Status put_transient(std::string_view bytes, std::string* id) { return put_bytes(bytes, id); }
  // Stores bytes that must hash to `id` (a blob from the network), durably or as put_transient
  // does; bytes that do not are refused and nothing is stored.
  virtual Status put_as(const std::string& id, std::string_view bytes, bool transient) {
    if (sha256_hex(bytes) != id) return Status::error("data does not hash to id " + id);
    std::string stored;
    return transient ? put_transient(bytes, &stored) : put_bytes(bytes, &stored);
  }
  // Whether `bytes` more from the network fit the store's quota. Called from any thread.
  virtual Status admit(std::size_t /*bytes*/) const { return {}; }
  // A compressed broadcast: blob `id` kept also as a change from another blob it was made from
  // (which names that base). The change's bytes, or an error when there is none.
  virtual Status get_delta(const std::string& /*id*/, std::string* /*delta*/) const {
    return Status::error("this store keeps no deltas");
  }
  // Rebuilds blob `id` from such a change and the base it names, which this store must hold;
  // stores it only if the result hashes to `id`. A blob already held is accepted whatever the
  // change, so an empty change asks whether this store holds `id` (PushPlan::ask_first).
  virtual Status put_from_delta(const std::string& /*id*/, std::string_view /*delta*/) {
    return Status::error("this store takes no deltas");
  }
};

}  // namespace fednode
