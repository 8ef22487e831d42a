// A snapshot as read from disk or assembled from a leader's chunks: decoded, then restored into a
// real state machine (key-value map, members, round state), then taken again and restored again.
#include <cstdint>
#include <string_view>

#include "fednode/app/state_machine.h"
#include "fednode/storage/raft_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fednode;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string state(bytes);
  if (auto snap = storage::decode_snapshot(bytes)) state = snap->data;
  StateMachine sm;
  if (sm.restore(state).ok()) {
    StateMachine again;
    if (!again.restore(sm.snapshot()).ok()) __builtin_trap();  // what we write we must read
  }
  return 0;
}
