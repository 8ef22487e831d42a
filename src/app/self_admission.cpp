#include "fednode/app/self_admission.h"

#include <spdlog/spdlog.h>

#include <random>

#include "fednode/net/client_requests.h"
#include "fednode/util/once_per.h"

namespace fednode {

SelfAdmission::SelfAdmission(PeerAddress self, std::optional<crypto::NodeKey> key, std::string cluster_id,
                             std::vector<SeedPeer> seeds)
    : self_(std::move(self)), key_(std::move(key)), cluster_id_(std::move(cluster_id)), seeds_(std::move(seeds)) {}

void SelfAdmission::start_joining(MembersFound found) {
  if (thread_.joinable() || seeds_.empty()) return;
  thread_ = std::thread([this, found = std::move(found)] { join_loop(found); });
}

void SelfAdmission::admitted() {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  wake_.notify_all();
}

void SelfAdmission::stop() {
  admitted();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> SelfAdmission::ask_members(std::chrono::milliseconds timeout) const {
  for (const SeedPeer& seed : seeds_) {
    net::ClientConnection c;
    std::string why;
    if (key_) {
      auto server = crypto::PublicKey::parse(seed.key, &why);
      if (!server) continue;
      c.set_keys(net::ClientKeys{*key_, *server, net::client_channel_prologue(cluster_id_)});
    }
    msgpack::object_handle answer;
    if (!c.connect(seed.address, timeout).ok() || !c.call(status_request("diagnostic"), &answer, timeout).ok()) continue;
    std::vector<std::string> members = diagnostic_members(answer.get());
    if (members.empty()) continue;
    return members;
  }
  return {};
}

Status SelfAdmission::ask(const char* action, const std::optional<SeedPeer>& first, std::chrono::milliseconds timeout) const {
  std::vector<SeedPeer> order;
  if (first) order.push_back(*first);
  order.insert(order.end(), seeds_.begin(), seeds_.end());
  std::string request = peer_request("config", action, self_, std::string(action) == "add",
                                     std::string(action) == "add" && key_ ? key_->public_key.text() : "");
  std::string errors;
  for (const SeedPeer& seed : order) {
    auto connect = [&](net::ClientConnection& c, const PeerAddress& at, const std::string& redirect_key) {
      if (key_) {
        std::string text = redirect_key.empty() && at == seed.address ? seed.key : redirect_key, why;
        auto server = crypto::PublicKey::parse(text, &why);
        if (!server) return Status::error(at.to_string() + ": no key known for it: " + why);
        c.set_keys(net::ClientKeys{*key_, *server, net::client_channel_prologue(cluster_id_)});
      }
      Status s = c.connect(at, timeout);
      // A refused handshake (not a refused connection) is what a key the voters do not admit gets.
      if (!s.ok() && key_ && s.message().find("cannot connect") == std::string::npos) {
        return Status::error(s.message() + " (is this node's key admitted there with --admit-key?)");
      }
      return s;
    };
    msgpack::object_handle answer;
    Status s = call_leader(seed.address, request, &answer, timeout, connect);
    if (s.ok()) {
      const auto& o = answer.get();
      const msgpack::object* ok = net::map_field(o, "success");
      if (net::is_true(ok)) return {};
      std::string reason = net::as_string(net::map_field(o, "reason"));
      if (reason.empty()) reason = net::as_string(net::map_field(o, "error"));
      s = Status::error("refused: " + (reason.empty() ? std::string("no reason given") : reason));
    }
    errors += (errors.empty() ? "" : "; ") + seed.address.to_string() + ": " + s.message();
  }
  return Status::error(errors.empty() ? "no peer to ask" : errors);
}

bool SelfAdmission::lists_self(const std::vector<std::string>& members) const {
  for (const std::string& m : members) {
    auto eq = m.find('=');
    std::string why;
    auto address = parse_peer_address(m.substr(0, eq), &why);
    if (!address || !(*address == self_)) continue;
    if (!key_) return true;
    return eq != std::string::npos && m.substr(eq + 1) == key_->public_key.text();  // another key: not this node
  }
  return false;
}

void SelfAdmission::join_loop(const MembersFound& found) {
  std::mt19937_64 rng(std::random_device{}());
  auto pause = std::chrono::milliseconds(200);
  OncePer warnings(std::chrono::seconds(5));
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
    }
    ++attempts_;
    auto members = ask_members(std::chrono::milliseconds(2000));
    bool listed = lists_self(members);
    if (!members.empty()) found(std::move(members));
    if (listed) {
      if (!asked_ && !saw_listed_.exchange(true)) {
        spdlog::info("the group already lists this node (added by an operator): waiting for the leader to reach it");
      }
    } else {
      asked_ = true;
      Status s = ask("add", std::nullopt, std::chrono::milliseconds(2000));
      if (s.ok()) {
        spdlog::info("asked to join as a learner: the leader added this node");
        return;
      }
      if (warnings.allow()) spdlog::warn("not a member yet, asking again: {}", s.message());
    }
    // Joiners that start together would otherwise collide on the one membership change the
    // leader takes at a time: each waits a random share of its pause.
    std::uniform_int_distribution<long> jitter(pause.count() / 2, pause.count());
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(jitter(rng)), [this] { return done_; })) return;
    pause = std::min(pause * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace fednode
