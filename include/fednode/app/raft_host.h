#pragma once
// What the role controller needs from the daemon that owns Raft; it never touches the node.
#include <optional>
#include <string>

#include "fednode/crypto/node_key.h"

#include "fednode/fl/round_machine.h"
#include "fednode/fl/round_state.h"
#include "fednode/util/json_line.h"

namespace fednode {

class RaftHost {
 public:
  virtual ~RaftHost() = default;
  virtual fl::RaftView raft_view() const = 0;
  virtual bool propose(const std::string& round_command) = 0;
  virtual void flush() = 0;  // persist and send what the last input produced, now
  virtual std::string address_of(fl::NodeId id) const = 0;  // HOST:PORT, "" if unknown
  virtual std::string key_of(fl::NodeId id) const = 0;      // a member's public key, "" if none
  virtual std::optional<crypto::NodeKey> node_key() const = 0;  // this node's, in secure mode
  virtual bool transfer_leadership(fl::NodeId to) = 0;
  virtual const fl::RoundState& rounds() const = 0;
  virtual void add_traffic(JsonLine* line) const = 0;  // per-channel counters, for events
};

}  // namespace fednode
