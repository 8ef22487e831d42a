#pragma once
// The responder's side of sealed-channel handshakes (crypto/handshake.h) on a thread of its own,
// off the control loop: each costs four X25519 operations, and a flood of garbage handshakes
// must not delay heartbeats and writes. At most `max_waiting` wait or run at once; past that a
// handshake is refused at once (the caller closes the connection, which the client may retry).
// A handshake whose connection is abandoned while it waits (the client hung up, the gate
// evicted it, it timed out) is skipped without its Diffie-Hellman: a flood of requests sent
// and dropped costs little more than reading them.
// The initiator's key is checked against the membership back on the caller's executor, since
// only the control loop reads the membership.
#include <asio.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
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
  };
  using Done = std::function<void(Outcome)>;
  // Runs the handshake, then `done` on `back` (unless `abandoned` was set first). False (and
  // `done` never runs) when full.
  bool respond(std::shared_ptr<const crypto::NodeKey> self, std::string prologue, std::string request,
               std::shared_ptr<std::atomic<bool>> abandoned, asio::any_io_executor back, Done done);
  std::uint64_t skipped() const { return skipped_->load(); }
  std::size_t waiting() const { return waiting_->load(); }

 private:
  std::size_t max_waiting_;
  std::shared_ptr<std::atomic<std::size_t>> waiting_ = std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> skipped_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  asio::thread_pool thread_{1};
};

}  // namespace fednode::net
