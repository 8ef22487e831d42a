#pragma once
// Pushes blobs (a model, and the server state that goes with it) to several peers' data planes
// at once. Once `enough` of them hold it, it waits
// for the others at most as long again as that took, then returns: an unreachable voter must not
// hold a round for a whole transfer timeout when a majority holds the model, while peers that are
// merely a little slower still get it pushed (returning at once would make them fetch it a second
// time over the same link). Pushes still under way then finish on their own threads and add their
// bytes to `late`, which the caller keeps. Blocks: call it from a transfer thread, never from the
// control loop.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fednode/net/data_plane.h"
#include "fednode/util/peer_address.h"

namespace fednode {

// Bytes of transfers that ended after their caller stopped waiting; read from any thread.
class LateTransferCounters {
 public:
  void add(const net::TransferStats& s);
  net::TransferStats read() const;

 private:
  std::atomic<std::uint64_t> bytes_in_{0}, bytes_out_{0}, messages_in_{0}, messages_out_{0};
};

struct PushOutcome {
  std::vector<std::string> holders;   // peers that acknowledged the blob before the return
  std::vector<std::string> failures;  // "peer: reason" of pushes that failed before the return
  net::TransferStats stats;           // bytes of the pushes that ended before the return
};

struct PushBlob {
  std::string id;
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<const std::string> delta;  // its change from a base (compressed broadcast), or null
};

struct PushPlan {
  std::vector<std::string> peers;  // HOST:PORT client addresses
  std::vector<PushBlob> blobs;     // pushed in this order; a peer holds "it" once it holds all
  std::size_t enough = 0;  // return once this many peers hold it
  std::chrono::milliseconds timeout{10000};
  std::function<std::optional<PeerAddress>(const std::string& peer)> resolve;  // data-plane address
  std::function<void(const std::string& peer)> forget;                         // after a failure
  std::map<std::string, net::SecureCall> secure;  // secure mode: each peer's call (absent: plaintext)
  // Peers may hold the blobs already (the initial model, which every peer makes from the seed
  // while it prepares): each is first offered as an empty change, which a holder accepts, and
  // offered again for up to `ask_for` (a peer still preparing cannot train before it is done
  // anyway) before the blob itself goes.
  bool ask_first = false;
  std::chrono::milliseconds ask_for{3000};
};

PushOutcome push_to_peers(const PushPlan& plan, std::shared_ptr<LateTransferCounters> late);

}  // namespace fednode
