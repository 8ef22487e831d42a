#pragma once
// A peer started with --join asks the group to add it as a learner, through any seed (following
// redirects to the leader), and keeps asking with growing pauses until it is a member (unless the
// seed already lists it: an operator added it, and it waits for the leader); asked to stop, a
// learner that added itself asks the leader to remove it. The requests block, so they run on a thread of their
// own and never on the control loop.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fednode/crypto/node_key.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode {

struct SeedPeer {
  PeerAddress address;
  std::string key;  // its public key ("" with --insecure)
};

class SelfAdmission {
 public:
  SelfAdmission(PeerAddress self, std::optional<crypto::NodeKey> key, std::string cluster_id, std::vector<SeedPeer> seeds);
  ~SelfAdmission() { stop(); }

  // The members a seed lists (HOST:PORT=KEY, or HOST:PORT with --insecure): the joiner must know
  // the leader's key before it can accept its first datagram.
  using MembersFound = std::function<void(std::vector<std::string> members)>;
  // Starts asking to be added, on a thread, until admitted() or stop(); before each request the
  // seed's member list goes to `found` (called on that thread).
  void start_joining(MembersFound found);
  // The control loop saw this node in the membership: no more asking.
  void admitted();
  void stop();
  // One request through `first` (the leader, if known) and then each seed in turn, "add" (as a
  // learner) or "delete" (this node); blocks for at most about `timeout` per peer tried.
  Status ask(const char* action, const std::optional<SeedPeer>& first, std::chrono::milliseconds timeout) const;

  std::uint64_t attempts() const { return attempts_.load(); }
  // This process asked the group to add this node (an answer that timed out may still have
  // committed): only then does it ask to leave when it stops. One an operator added (add-peer),
  // or a learner restarted as a member, leaves the membership to the operator (remove-peer) and
  // the leader (--evict-after).
  bool added_itself() const { return asked_.load(); }

 private:
  void join_loop(const MembersFound& found);
  // Whether a member list names this node (its address, and its key in secure mode).
  bool lists_self(const std::vector<std::string>& members) const;
  // The member list of the first seed that answers (empty if none does).
  std::vector<std::string> ask_members(std::chrono::milliseconds timeout) const;

  PeerAddress self_;
  std::optional<crypto::NodeKey> key_;
  std::string cluster_id_;
  std::vector<SeedPeer> seeds_;
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<bool> asked_{false}, saw_listed_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace fednode
