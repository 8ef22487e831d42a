#include "fednode/app/round/model_push.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace fednode {

void LateTransferCounters::add(const net::TransferStats& s) {
  bytes_in_ += s.bytes_in;
  bytes_out_ += s.bytes_out;
  messages_in_ += s.messages_in;
  messages_out_ += s.messages_out;
}

net::TransferStats LateTransferCounters::read() const {
  return net::TransferStats{bytes_in_.load(), bytes_out_.load(), messages_in_.load(), messages_out_.load()};
}

namespace {

// Shared by the caller and every push thread; whoever ends last frees it.
struct PushState {
  std::mutex mu;
  std::condition_variable changed;
  std::size_t ended = 0;
  bool returned = false;  // the caller has its outcome; later pushes count as late
  PushOutcome outcome;
};

// Offers `id` as an empty change (a holder accepts it) every 100 ms until the peer holds it or
// `ask_for` has passed.
bool holds_soon(const PeerAddress& addr, const std::string& id, std::chrono::milliseconds ask_for,
                std::chrono::milliseconds timeout, net::TransferStats* st, const net::SecureCall* keys) {
  auto until = std::chrono::steady_clock::now() + ask_for;
  while (!net::push_delta(addr, id, "", timeout, st, keys).ok()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace

PushOutcome push_to_peers(const PushPlan& plan, std::shared_ptr<LateTransferCounters> late) {
  auto state = std::make_shared<PushState>();
  for (const auto& peer : plan.peers) {
    std::thread([state, late, peer, blobs = plan.blobs, timeout = plan.timeout, resolve = plan.resolve,
                 forget = plan.forget, secure = plan.secure, ask_first = plan.ask_first, ask_for = plan.ask_for] {
      net::TransferStats st;
      auto addr = resolve(peer);
      auto call = secure.find(peer);
      Status s = addr ? Status{} : Status::error(peer + ": data port unknown (peer unreachable)");
      const net::SecureCall* keys = call == secure.end() ? nullptr : &call->second;
      for (std::size_t b = 0; s.ok() && b < blobs.size(); ++b) {
        if (ask_first && holds_soon(*addr, blobs[b].id, ask_for, timeout, &st, keys)) continue;
        // The change first, where there is one: a peer that lacks its base refuses it and gets
        // the blob.
        if (blobs[b].delta && net::push_delta(*addr, blobs[b].id, *blobs[b].delta, timeout, &st, keys).ok()) continue;
        s = net::push_blob_resumable(*addr, blobs[b].id, *blobs[b].bytes, timeout, {}, &st, keys);  // in parts over 1 MiB
      }
      if (!s.ok() && addr) forget(peer);  // it may have come back on another port
      std::lock_guard lock(state->mu);
      ++state->ended;
      if (state->returned) {
        late->add(st);
      } else {
        auto& o = state->outcome;
        (s.ok() ? o.holders : o.failures).push_back(s.ok() ? peer : s.message());
        o.stats.bytes_in += st.bytes_in;
        o.stats.bytes_out += st.bytes_out;
        o.stats.messages_in += st.messages_in;
        o.stats.messages_out += st.messages_out;
      }
      state->changed.notify_all();
    }).detach();
  }
  auto start = std::chrono::steady_clock::now();
  auto all_ended = [&] { return state->ended == plan.peers.size(); };
  std::unique_lock lock(state->mu);
  state->changed.wait(lock, [&] { return all_ended() || state->outcome.holders.size() >= plan.enough; });
  auto linger_until = std::chrono::steady_clock::now() + (std::chrono::steady_clock::now() - start);
  state->changed.wait_until(lock, linger_until, all_ended);
  state->returned = true;
  return state->outcome;
}

}  // namespace fednode
