#pragma once
// Where each peer's data plane listens. A peer is known by its client address (HOST:PORT, the
// address in the member list); its data port is asked once over the client channel (the
// diagnostic answer names it, since --data-port may have moved it), then remembered until a
// transfer to it fails. Thread-safe: the transfer and push threads share it.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "fednode/net/client_connection.h"
#include "fednode/util/peer_address.h"

namespace fednode {

class PeerDirectory {
 public:
  // The process-wide directory. Never destroyed: detached push threads (model_push.h) may
  // still use it while the process exits.
  static PeerDirectory& shared();

  // Blocks up to 2 s. `keys`: the sealed client-channel call to make (secure mode).
  std::optional<PeerAddress> data_address(const std::string& peer, const net::ClientKeys* keys = nullptr);
  void forget(const std::string& peer);

 private:
  std::mutex mu_;
  std::map<std::string, PeerAddress> known_;
};

}  // namespace fednode
