#include "fednode/net/handshake_worker.h"

#include <algorithm>

namespace fednode::net {

HandshakeWorker::HandshakeWorker(std::size_t max_waiting) : max_waiting_(max_waiting) {}

HandshakeWorker::~HandshakeWorker() {
  thread_.stop();
  thread_.join();
}

bool HandshakeWorker::Queue::leave(const asio::ip::address& from, const Flag& flag) {
  auto it = waiting.find(from);
  if (it == waiting.end()) return false;
  auto& q = it->second;
  auto pos = std::find(q.begin(), q.end(), flag);
  if (pos == q.end()) return false;
  q.erase(pos);
  if (q.empty()) waiting.erase(it);
  --count;
  return true;
}

std::uint64_t HandshakeWorker::dropped() const {
  std::lock_guard<std::mutex> lock(queue_->mu);
  return queue_->dropped;
}

void HandshakeWorker::respond(const asio::ip::address& from, std::shared_ptr<const crypto::NodeKey> self,
                              std::string prologue, std::string request, Flag abandoned, asio::any_io_executor back,
                              Done done) {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    if (queue_->count >= max_waiting_) {
      // Make room at the expense of the address with the most handshakes waiting.
      auto heaviest = std::max_element(queue_->waiting.begin(), queue_->waiting.end(),
                                       [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
      heaviest->second.front()->store(true);
      heaviest->second.pop_front();
      if (heaviest->second.empty()) queue_->waiting.erase(heaviest);
      --queue_->count;
      ++queue_->dropped;
    }
    queue_->waiting[from].push_back(abandoned);
    ++queue_->count;
  }
  asio::post(thread_, [from, self = std::move(self), prologue = std::move(prologue), request = std::move(request),
                       abandoned = std::move(abandoned), back = std::move(back), done = std::move(done),
                       queue = queue_, skipped = skipped_]() mutable {
    bool dropped = false;
    {
      std::lock_guard<std::mutex> lock(queue->mu);
      dropped = !queue->leave(from, abandoned);
    }
    if (abandoned->load()) {
      skipped->fetch_add(1);
      // `done` holds the session: it ends on the loop it belongs to, not here.
      asio::post(back, [dropped, done = std::move(done)]() mutable {
        if (!dropped) return;
        Outcome out;
        out.dropped = true;
        done(std::move(out));
      });
      return;
    }
    Outcome out;
    // Admission needs the membership, which the control loop owns: accept any key here and let
    // `done` decide; nothing is sent before it does.
    out.status = crypto::handshake_respond(*self, prologue, request, [&out](const crypto::PublicKey& k) {
      out.initiator = k;
      return Status{};
    }, &out.response, &out.session);
    asio::post(back, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  });
}

}  // namespace fednode::net
