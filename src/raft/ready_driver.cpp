#include "fednode/raft/ready_driver.h"

namespace fednode::raft {

Status handle_ready(Node& node, ReadyHandler& handler) {
  if (!node.has_ready()) return {};
  Ready rd = node.ready();
  // Such a leader also applies first what was committed before this Ready's entries (it is on a
  // majority's disks, its own included), so that clients do not wait for an unrelated fsync.
  bool apply_first = rd.send_before_persist &&
                     (rd.entries.empty() || rd.committed_entries.empty() ||
                      rd.committed_entries.back().index < rd.entries.front().index);
  auto send_all = [&] {
    for (const auto& m : rd.messages) handler.send(m);
  };
  auto apply_all = [&]() -> Status {
    for (const auto& e : rd.committed_entries) {
      if (Status s = handler.apply(e); !s.ok()) return s;
    }
    return {};
  };
  bool synced_now = false;
  if (rd.persist_async) {
    send_all();
    if (Status s = apply_all(); !s.ok()) return s;
    if (Status s = handler.persist_async(rd, &synced_now); !s.ok()) return s;
    for (const auto& r : rd.read_states) handler.read_ready(r);
    handler.applied_batch();
    if (rd.snapshot_due) {
      if (Status s = handler.snapshot(node.conf_state()); !s.ok()) return s;
    }
    node.advance(rd);
    if (synced_now) node.persisted(rd.entries.back().index, rd.entries.back().term);
    return {};
  }
  // Without entries there is no append to hurry out (only commit notices and heartbeats): the
  // clients' answers, given as entries apply, go first.
  bool answer_first = rd.send_before_persist && rd.entries.empty();
  if (rd.send_before_persist && !answer_first) send_all();
  if (apply_first) {
    if (Status s = apply_all(); !s.ok()) return s;
  }
  if (answer_first) send_all();
  if (Status s = handler.persist(rd); !s.ok()) return s;
  if (rd.snapshot) {
    if (Status s = handler.install(*rd.snapshot); !s.ok()) return s;
  }
  if (!rd.send_before_persist) send_all();
  if (!apply_first) {
    if (Status s = apply_all(); !s.ok()) return s;
  }
  for (const auto& r : rd.read_states) handler.read_ready(r);
  handler.applied_batch();
  if (rd.snapshot_due) {
    if (Status s = handler.snapshot(node.conf_state()); !s.ok()) return s;
  }
  node.advance(rd);
  return {};
}

Status drain_ready(Node& node, ReadyHandler& handler) {
  while (node.has_ready()) {
    if (Status s = handle_ready(node, handler); !s.ok()) return s;
  }
  return {};
}

}  // namespace fednode::raft
