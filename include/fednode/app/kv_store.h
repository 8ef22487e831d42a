#pragma once
// KvStore: the replicated key-value map the zatt-compatible client channel exposes, plus the
// members' addresses. Commands are msgpack maps {action: change|delete, key, value}.
#include <map>
#include <string>
#include <string_view>

#include "fednode/raft/types.h"
#include "fednode/util/status.h"

namespace fednode {

class KvStore {
 public:
  // Applies one command; an undecodable one is an error (it cannot be in the log: the leader
  // validates commands before proposing them).
  Status apply(std::string_view command);
  // Checks a command; `added` (optional) gets what it would add to bytes(): key and value of a
  // change, 0 for a delete.
  static Status validate(std::string_view command, std::size_t* added = nullptr);
  static std::string change_command(const std::string& key, const std::string& value_msgpack);
  static std::string delete_command(const std::string& key);

  const std::map<std::string, std::string>& entries() const { return map_; }  // value: msgpack
  std::size_t bytes() const { return bytes_; }  // of keys and values, what --max-kv-bytes bounds
  std::map<raft::NodeId, std::string>& members() { return members_; }           // id -> HOST:PORT
  const std::map<raft::NodeId, std::string>& members() const { return members_; }

  std::string snapshot() const;
  Status restore(std::string_view bytes);

 private:
  std::map<std::string, std::string> map_;
  std::size_t bytes_ = 0;
  std::map<raft::NodeId, std::string> members_;
};

}  // namespace fednode
