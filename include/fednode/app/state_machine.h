#pragma once
// The replicated state machine every node applies committed entries to: the zatt-compatible
// key-value map with the members' addresses (KvStore) and the federated rounds (RoundState).
#include <cstdint>
#include <string>
#include <string_view>

#include "fednode/app/kv_store.h"
#include "fednode/fl/round_state.h"

namespace fednode {

class StateMachine {
 public:
  // Every command in the log starts with a byte naming its kind, so that what a client writes
  // can never be read as a round command, whatever fields it carries. (A msgpack map, which the
  // log held before, never starts with these bytes: such an entry is refused, not guessed at.)
  enum class Kind : std::uint8_t { kKeyValue = 1, kRound = 2 };
  static std::string tagged(Kind kind, std::string_view command);

  // Round commands go to the rounds (event says what they changed), key-value ones to the map.
  Status apply(std::string_view command, fl::RoundEvent* event, std::string* why);

  KvStore& kv() { return kv_; }
  const KvStore& kv() const { return kv_; }
  const fl::RoundState& rounds() const { return rounds_; }

  // The state's snapshot, which a leader also sends to members of other versions: msgpack
  // [bin: key-value snapshot, round state] is format 1; a later format appends its number
  // ([kv, rounds, 2]), and restore refuses a number above kStateFormat with one line. Readers of a
  // format ship before any writer of it (docs/upgrades.md): this version reads 1 and writes 1.
  static constexpr std::uint64_t kStateFormat = 1;
  std::string snapshot() const;
  Status restore(std::string_view bytes);

 private:
  KvStore kv_;
  fl::RoundState rounds_;
};

}  // namespace fednode
