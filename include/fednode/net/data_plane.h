#pragma once
// The data plane: models and updates travel here, never through the Raft log. TCP on its own
// port (default peer port + 1000). Frames are [u32 length, big-endian][msgpack map]; a frame
// larger than the bound, a malformed frame or an idle connection (timeout) closes that
// connection with a logged reason and nothing else.
//   {op: fetch, id}            -> {ok: true, data: bin} | {ok: false, reason}
//   {op: fetch, id, offset, length}
//                              -> {ok: true, data: bin (those bytes of the blob), offset, size}:
//                                 ranges make a transfer resumable and let it come from several
//                                 holders at once (fetch_blob_ranged)
//   {op: push, id, data: bin}  -> {ok: true} once stored (the id must be the data's SHA-256)
//   {op: update, id, data: bin, round, term, attempt, node, samples, train_loss, train_seconds}
//                              -> stored like push, then handed to the update handler, whose
//                                 answer ("" = accepted, else the reason) is returned
// Blobs live in a BlobStore (the FL engine's model store), whose quota a push or update must fit.
// The server runs on the control loop's io_context; decrypting, hashing, storing and reading
// blobs run on its own two blob threads. Connections are capped (ConnectionLimits).
//
// Secure mode (DataPlaneKeys on the server, SecureCall on the client): a connection starts with
// the handshake of crypto/handshake.h, in which both ends prove their node keys; the server admits
// members only; every frame after it is sealed (its length counts the ciphertext). An update is
// accepted only under the node id of the key that sent it.
#include <asio.hpp>
#include <mutex>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fednode/crypto/handshake.h"
#include "fednode/util/blob_store.h"
#include "fednode/net/channel_counters.h"
#include "fednode/net/handshake_worker.h"
#include "fednode/util/once_per.h"
#include "fednode/net/tcp_listener.h"
#include "fednode/util/peer_address.h"
#include "fednode/util/status.h"

namespace fednode::net {

inline constexpr std::size_t kDefaultMaxFrame = 256u << 20;

// A trainer's update for one round attempt (the weights travel as the blob `id`).
struct UpdateNotice {
  std::string id;
  std::uint64_t round = 0, term = 0, attempt = 0, node = 0, samples = 0;
  double train_loss = 0, train_seconds = 0;
  std::string declined;  // op "decline": why this trainer cannot train the attempt (no data, no id)
  // op "evaluation": a party's evaluation of the committed model `id` of `round` on its own test
  // split (samples, loss, metric; samples 0: it has nothing to add).
  bool evaluation = false;
  double loss = 0, metric = 0;
};

// One request frame's content (after the seal is opened).
struct DataRequest {
  std::string op, id, data;  // op: fetch | push | update | part | decline | evaluation; data: push, update, part
  // fetch: the change from a base is welcome instead of the blob; push: data is such a change
  // (BlobStore::get_delta, put_from_delta). Peers that predate it ignore the field.
  bool delta = false;
  // fetch: only `length` bytes from `offset` (length 0: the whole blob, as before).
  // part: `data` goes at `offset` of an upload of `size` bytes (a resumable update, in parts).
  std::uint64_t offset = 0, length = 0, size = 0;
  // update, push: the data came before, in parts (op part); the frame carries none.
  bool parts = false;
  UpdateNotice notice;       // update only (its id is set from `id` once the data is stored)
};
inline constexpr std::uint64_t kMaxRange = 64u << 20;
// Decodes a frame's msgpack body. An error (the connection is closed) names what is wrong; the
// id's form and the data's hash are the caller's to check.
Status decode_data_request(std::string_view body, DataRequest* out);

struct DataPlaneKeys {
  crypto::NodeKey self;
  std::string prologue;  // names the cluster and the channel; both ends use the same
  // Who may connect: a member's key gives its node id, anything else an error.
  std::function<Status(const crypto::PublicKey& key, std::uint64_t* node)> admit;
};

// A client's side of a secure call: its key, the key the server must hold, the prologue.
struct SecureCall {
  crypto::NodeKey self;
  crypto::PublicKey server;
  std::string prologue;
};

// The handshake prologue of a cluster's data plane (both ends must use the same).
inline std::string data_plane_prologue(const std::string& cluster_id) { return "fednode data plane 1 " + cluster_id; }

// Bytes a blocking client call moved, for the caller's channel counters.
struct TransferStats {
  std::uint64_t bytes_in = 0, bytes_out = 0, messages_in = 0, messages_out = 0;
};

struct RecentBlobs;  // the blobs last read for ranged fetches (data_plane_server.cpp)
class PartialUploads;  // updates arriving in parts (partial_uploads.h)

class DataPlaneServer {
 public:
  using UpdateHandler = std::function<std::string(const UpdateNotice&)>;
  // Data-plane connections come from members only (trainers and voters), but in loopback tests
  // all of them from one address.
  // Unproven connections: no limit per address below the total, for the same reason.
  static ConnectionLimits default_limits() {
    return {256, 128, std::chrono::milliseconds(30000), 256, 256, std::chrono::milliseconds(5000)};
  }
  DataPlaneServer(asio::io_context& io, BlobStore& store, std::size_t max_frame,
                  ConnectionLimits limits = default_limits());
  ~DataPlaneServer();
  Status listen(const PeerAddress& address);
  void close();
  const ChannelCounters& counters() const { return *counters_; }
  std::size_t open_connections() const { return gate_->open(); }  // unproven ones included
  std::size_t unproven_connections() const { return gate_->unproven(); }
  std::uint16_t port() const;
  // Without a handler, updates are refused ("this node is not aggregating").
  void set_update_handler(UpdateHandler handler) { *handler_ = std::move(handler); }
  // Secure mode for every connection accepted from now on.
  void set_keys(std::shared_ptr<const DataPlaneKeys> keys) { keys_ = std::move(keys); }
  // The sessions' warnings, at most one a second between them.
  struct Warnings {
    std::mutex mu;
    OncePer once;
  };

 private:
  HandshakeWorker handshakes_;  // first: sessions it still answers need it until the end
  asio::ip::tcp::acceptor acceptor_;
  BlobStore& store_;
  std::size_t max_frame_;
  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
  std::shared_ptr<UpdateHandler> handler_ = std::make_shared<UpdateHandler>();
  std::shared_ptr<const DataPlaneKeys> keys_;
  std::shared_ptr<Warnings> warnings_ = std::make_shared<Warnings>();
  std::shared_ptr<RecentBlobs> recent_;
  std::shared_ptr<PartialUploads> partial_;
  // Decrypting, hashing, storing and reading blobs: never on the control loop.
  asio::thread_pool blob_threads_{2};
  std::shared_ptr<ConnectionGate> gate_;
  AcceptLoop accept_loop_;
  asio::steady_timer sweep_timer_;  // drops partial uploads left idle when no frame comes
  void arm_sweep();
};

// Blocking client (worker threads and tests).
// `secure`: null for a plaintext (--insecure) peer.
Status fetch_blob(const PeerAddress& server, const std::string& id, std::string* data,
                  std::chrono::milliseconds timeout, std::size_t max_frame = kDefaultMaxFrame,
                  TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
Status push_blob(const PeerAddress& server, const std::string& id, const std::string& data,
                 std::chrono::milliseconds timeout, TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
// Compressed broadcast. A fetch that welcomes the change from a base the server kept: with
// *is_delta the caller rebuilds the blob (BlobStore::put_from_delta checks it), otherwise `data`
// is the blob, checked against id. A push of such a change: the server rebuilds and checks it,
// and refuses it when it lacks the base (the caller then pushes the blob).
Status fetch_blob_or_delta(const PeerAddress& server, const std::string& id, std::string* data, bool* is_delta,
                           std::chrono::milliseconds timeout, std::size_t max_frame = kDefaultMaxFrame,
                           TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
Status push_delta(const PeerAddress& server, const std::string& id, const std::string& delta,
                  std::chrono::milliseconds timeout, TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
// A fetch in ranges from several holders at once. Each holder's connection keeps `in_flight`
// range requests of `range_bytes` under way and takes the next missing range as one arrives; a
// cut connection is opened again (up to `attempts` times per holder) and its ranges go to
// whoever asks next, so a cut costs at most the ranges in flight. The whole blob is checked
// against its id. A holder that predates ranges answers with the whole blob, which is taken.
struct RangedFetch {
  std::size_t range_bytes = 1u << 20;
  std::size_t in_flight = 4;
  int attempts = 5;
  // A range another holder owes is asked again only once it has been under way this long (or
  // four times the typical range's time, if longer).
  std::chrono::milliseconds endgame_after{2000};
};
struct FetchSource {
  PeerAddress address;
  const SecureCall* secure = nullptr;  // null: plaintext (--insecure)
};
// With `is_delta`, the first request welcomes the change from a base the first holder kept
// (compressed broadcast, as fetch_blob_or_delta): *is_delta then says `data` is that change.
Status fetch_blob_ranged(const std::vector<FetchSource>& sources, const std::string& id, std::string* data,
                         std::chrono::milliseconds timeout, const RangedFetch& options = {},
                         TransferStats* stats = nullptr, bool* is_delta = nullptr);

// Tells the aggregator that this trainer cannot train the attempt (notice.declined says why).
inline constexpr std::size_t kMaxDeclineReason = 400;
Status decline_update(const PeerAddress& server, const UpdateNotice& notice, std::chrono::milliseconds timeout,
                      TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
// Reports a party's evaluation (notice.evaluation) to the leader.
Status report_evaluation(const PeerAddress& server, const UpdateNotice& notice, std::chrono::milliseconds timeout,
                         TransferStats* stats = nullptr, const SecureCall* secure = nullptr);
// `abandon`, polled every 100 ms, ends the upload early ("abandoned") once it returns true.
Status upload_update(const PeerAddress& server, const UpdateNotice& notice, const std::string& data,
                     std::chrono::milliseconds timeout, TransferStats* stats = nullptr,
                     const std::function<bool()>& abandon = {}, const SecureCall* secure = nullptr);

// An update of more than `part_bytes` goes in parts ({op: part, id, size, offset, data}, each
// answered {ok, have}: the bytes the server holds), `in_flight` at a time on one connection, then
// the update frame itself with `parts: true` and no data. A cut connection is opened again (up to
// `attempts` times, each with the whole timeout) and the upload goes on from where the server
// says it stands, so a cut costs at most the parts in flight. A server's refusal is final. A
// smaller update goes in one frame (upload_update). Parts came with ranged fetches, in 0.2, whose
// data plane does not talk to 0.1's.
struct ResumableUpload {
  std::size_t part_bytes = 1u << 20;
  std::size_t in_flight = 4;
  int attempts = 5;
};
Status upload_update_resumable(const PeerAddress& server, const UpdateNotice& notice, const std::string& data,
                               std::chrono::milliseconds timeout, const ResumableUpload& options = {},
                               TransferStats* stats = nullptr, const std::function<bool()>& abandon = {},
                               const SecureCall* secure = nullptr);
// A blob pushed the same way (parts, then {op: push, id, parts: true}); one frame up to part_bytes.
Status push_blob_resumable(const PeerAddress& server, const std::string& id, const std::string& data,
                           std::chrono::milliseconds timeout, const ResumableUpload& options = {},
                           TransferStats* stats = nullptr, const SecureCall* secure = nullptr);

}  // namespace fednode::net
