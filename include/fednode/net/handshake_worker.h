#pragma once
// The responder's side of sealed-channel handshakes (crypto/handshake.h) on a thread of its own,
// off the control loop: each costs four X25519 operations, and a flood of garbage handshakes
// must not delay heartbeats and writes. At most `max_waiting` handshakes wait at once; when a
// newcomer finds them all taken, the oldest one of the address that has the most waiting is
// dropped instead (its connection then times out), so a flooder, from however many addresses,
// crowds out itself before anyone with a handshake or two in the queue. A handshake whose
// connection is abandoned while it waits (the client hung up, the gate evicted it, it timed out)
// is skipped without its Diffie-Hellman. The initiator's key is checked against the membership
// back on the caller's executor, since only the control loop reads the membership.
#include <asio.hpp>

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "fednode/crypto/handshake.h"
#include "fednode/util/status.h"

namespace fednode::net {

class HandshakeWorker {
 public:
  explicit HandshakeWorker(std::size_t max_waiting = 64);
  ~HandshakeWorker();  // waits for the handshake under way; those waiting are dropped
  HandshakeWorker(const HandshakeWorker&) = delete;
  HandshakeWorker& operator=(const HandshakeWorker&) = delete;

  struct Outcome {
    Status status;                // the request's own checks (nothing to answer on error)
    crypto::PublicKey initiator;  // its static key, authenticated, to admit or refuse
    std::string response;         // to send once admitted
    crypto::SecureSession session;
    bool dropped = false;  // dropped to make room: nothing was checked
  };
  using Done = std::function<void(Outcome)>;
  // Runs the handshake of a connection from `from`, then `done` on `back`; unless `abandoned` is
  // set first by the caller (then `done` never runs), or the handshake is dropped to make room
  // (then `done` gets an Outcome with `dropped`).
  void respond(const asio::ip::address& from, std::shared_ptr<const crypto::NodeKey> self, std::string prologue,
               std::string request, std::shared_ptr<std::atomic<bool>> abandoned, asio::any_io_executor back,
               Done done);
  std::uint64_t skipped() const { return skipped_->load(); }
  std::uint64_t dropped() const;

 private:
  using Flag = std::shared_ptr<std::atomic<bool>>;
  struct Queue {
    std::mutex mu;
    std::map<asio::ip::address, std::deque<Flag>> waiting;  // by source, oldest first
    std::size_t count = 0;
    std::uint64_t dropped = 0;
    // Takes `flag` out of the waiting ones; false if it was not there (dropped meanwhile).
    bool leave(const asio::ip::address& from, const Flag& flag);
  };
  std::size_t max_waiting_;
  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
  std::shared_ptr<std::atomic<std::uint64_t>> skipped_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  asio::thread_pool thread_{1};
};

}  // namespace fednode::net
