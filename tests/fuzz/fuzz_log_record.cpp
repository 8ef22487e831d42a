// A log segment as read back from disk: CRC-framed records, each decoded as a Raft entry (or the
// hard state), and every decoded entry's command applied to a real state machine, as recovery
// and a follower do.
#include <cstdint>
#include <string_view>

#include "fednode/app/state_machine.h"
#include "fednode/storage/raft_codec.h"
#include "fednode/storage/record_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fednode;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  StateMachine sm;
  // Raw payloads too: a fuzzer rarely gets a CRC right, and the decoders must hold on their own.
  std::vector<std::string_view> payloads{bytes};
  for (std::size_t offset = 0;;) {
    storage::RecordRead r = storage::read_record(bytes, offset);
    if (r.kind != storage::RecordRead::kOk) break;
    payloads.push_back(r.payload);
    offset = r.next_offset;
  }
  for (auto payload : payloads) {
    (void)storage::decode_hard_state(payload);
    auto entry = storage::decode_entry(payload);
    if (!entry) continue;
    fl::RoundEvent event;
    std::string why;
    (void)sm.apply(entry->data, &event, &why);
  }
  return 0;
}
