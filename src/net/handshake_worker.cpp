#include "fednode/net/handshake_worker.h"

namespace fednode::net {

HandshakeWorker::HandshakeWorker(std::size_t max_waiting) : max_waiting_(max_waiting) {}

HandshakeWorker::~HandshakeWorker() {
  thread_.stop();
  thread_.join();
}

bool HandshakeWorker::respond(std::shared_ptr<const crypto::NodeKey> self, std::string prologue, std::string request,
                              std::shared_ptr<std::atomic<bool>> abandoned, asio::any_io_executor back, Done done) {
  if (waiting_->fetch_add(1) >= max_waiting_) {
    waiting_->fetch_sub(1);
    return false;
  }
  asio::post(thread_, [self = std::move(self), prologue = std::move(prologue), request = std::move(request),
                       abandoned = std::move(abandoned), back = std::move(back), done = std::move(done),
                       waiting = waiting_, skipped = skipped_]() mutable {
    if (abandoned->load()) {
      waiting->fetch_sub(1);
      skipped->fetch_add(1);
      return;
    }
    Outcome out;
    // Admission needs the membership, which the control loop owns: accept any key here and let
    // `done` decide; nothing is sent before it does.
    out.status = crypto::handshake_respond(*self, prologue, request, [&out](const crypto::PublicKey& k) {
      out.initiator = k;
      return Status{};
    }, &out.response, &out.session);
    waiting->fetch_sub(1);
    asio::post(back, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  });
  return true;
}

}  // namespace fednode::net
