#pragma once
// The one place that carries out a Ready in the order Raft requires (see node.h):
//   1. persist the snapshot, entries and hard state, then install a received snapshot into the
//      state machine;  2. send the messages (a leader's go first, while it persists, when
//      Ready.send_before_persist says so, and it applies entries committed before this Ready's
//      own before it persists them);  3. apply the committed entries and hand over read
//   states;  4. take a snapshot when one is due;  then advance(). A Ready.persist_async is sent,
//   applied, then handed to persist_async (durable later, reported by the handler). The daemon
// and both simulations drive their nodes through it, each with its own ReadyHandler (disk,
// network, state machine).
#include "fednode/raft/node.h"
#include "fednode/util/status.h"

namespace fednode::raft {

class ReadyHandler {
 public:
  virtual ~ReadyHandler() = default;
  virtual Status persist(const Ready& ready) = 0;            // durable before anything depends on it
  // A Ready with persist_async: write its entries (and hard state) and return; once they are
  // durable, call Node::persisted. Setting *synced instead says they are durable already.
  virtual Status persist_async(const Ready& ready, bool* synced) {
    *synced = true;
    return persist(ready);
  }
  virtual Status install(const Snapshot& snapshot) = 0;      // the state machine becomes the snapshot's
  virtual void send(const Message& message) = 0;
  virtual Status apply(const Entry& entry) = 0;
  virtual void read_ready(const ReadState& read) = 0;        // serve once applied reaches read.index
  virtual void applied_batch() {}                            // after the batch's entries and reads
  // Ready.snapshot_due: snapshot the state machine (at the index it has applied) if it is worth it.
  virtual Status snapshot(const ConfState& conf) = 0;
};

// Carries out one Ready, if the node has one. A handler error stops before advance() and is
// returned: the node must not go on as if it had been handled.
Status handle_ready(Node& node, ReadyHandler& handler);

// Carries out Readies until the node has none.
Status drain_ready(Node& node, ReadyHandler& handler);

}  // namespace fednode::raft
