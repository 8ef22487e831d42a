#pragma once
// The replicated state machine every node applies committed entries to: the zatt-compatible
// key-value map with the members' addresses (KvStore) and the federated rounds (RoundState).
#include <string>
#include <string_view>

#include "fednode/app/kv_store.h"
#include "fednode/fl/round_state.h"

namespace fednode {

class StateMachine {
 public:
  // FL commands go to the rounds (event says what they changed), the rest to the map.
  Status apply(std::string_view command, fl::RoundEvent* event, std::string* why);

  KvStore& kv() { return kv_; }
  const KvStore& kv() const { return kv_; }
  const fl::RoundState& rounds() const { return rounds_; }

  std::string snapshot() const;  // msgpack [bin: key-value snapshot, round state]
  Status restore(std::string_view bytes);

 private:
  KvStore kv_;
  fl::RoundState rounds_;
};

}  // namespace fednode
