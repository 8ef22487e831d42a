#pragma once
// The data plane: models and updates travel here, never through the Raft log. TCP on its own
// port (default peer port + 1000). Frames are [u32 length, big-endian][msgpack map]; a frame
// larger than the bound, a malformed frame or an idle connection (timeout) closes that
// connection with a logged reason and nothing else.
//   {op: fetch, id}            -> {ok: true, data: bin} | {ok: false, reason}
//   {op: push, id, data: bin}  -> {ok: true} once stored (the id must be the data's SHA-256)
// Blobs live in a fl::ModelStore. Server runs on the control loop's io_context.
#include <asio.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "fednode/fl/model_store.h"
#include "fednode/net/channel_counters.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

inline constexpr std::size_t kDefaultMaxFrame = 256u << 20;

class DataPlaneServer {
 public:
  DataPlaneServer(asio::io_context& io, fl::ModelStore& store, std::size_t max_frame,
                  std::chrono::milliseconds idle_timeout);
  Status listen(const PeerAddress& address);
  void close();
  const ChannelCounters& counters() const { return *counters_; }
  std::uint16_t port() const;

 private:
  void accept();
  asio::ip::tcp::acceptor acceptor_;
  fl::ModelStore& store_;
  std::size_t max_frame_;
  std::chrono::milliseconds idle_timeout_;
  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
};

// Blocking client (worker threads and tests).
Status fetch_blob(const PeerAddress& server, const std::string& id, std::string* data,
                  std::chrono::milliseconds timeout, std::size_t max_frame = kDefaultMaxFrame);
Status push_blob(const PeerAddress& server, const std::string& id, const std::string& data,
                 std::chrono::milliseconds timeout);

}  // namespace fednode::net
