#include "message_check.h"

namespace fednode::raft {

const char* malformed(const Message& m) {
  if (m.term >= kMaxTermOrIndex || m.log_term >= kMaxTermOrIndex) return "term out of range";
  if (m.index >= kMaxTermOrIndex || m.commit >= kMaxTermOrIndex || m.reject_hint >= kMaxTermOrIndex) {
    return "index out of range";
  }
  if (m.snapshot.index >= kMaxTermOrIndex || m.snapshot.term >= kMaxTermOrIndex) return "snapshot out of range";
  if (m.type == MessageType::kAppend) {
    // A leader ships the entries right after `index`, in order, of its own term or older, and
    // never older than the entry they follow.
    if (m.log_term > m.term) return "append follows an entry of a later term";
    if (m.entries.size() >= kMaxTermOrIndex - m.index) return "append runs past the largest index";
    Term previous = m.log_term;
    for (std::size_t i = 0; i < m.entries.size(); ++i) {
      const Entry& e = m.entries[i];
      if (e.index != m.index + 1 + i) return "append entries are not contiguous after its index";
      if (e.term < previous || e.term > m.term) return "append entry terms out of order";
      previous = e.term;
    }
  } else if (!m.entries.empty()) {
    return "entries on a message that carries none";
  }
  return nullptr;
}

}  // namespace fednode::raft
