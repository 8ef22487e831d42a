#pragma once
// ClientService: the client channel's protocol (zatt-compatible `get`, `append`, `config`,
// `diagnostic`, plus our `fl_status` and `transfer`) over a Raft node it reaches only through
// ClientRaft, so that it is unit-tested with a fake. Writes are answered once their entry is
// applied (success only if the entry applied at that index is still the one proposed); reads
// are linearizable (ReadIndex) unless the request says `stale`; a node that is not the leader
// redirects. Runs on the control loop.
#include <msgpack.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fednode/app/kv_store.h"
#include "fednode/net/client_server.h"
#include "fednode/raft/node.h"
#include "fednode/util/peer_address.h"

namespace fednode {

class ClientRaft {
 public:
  virtual ~ClientRaft() = default;
  virtual bool is_leader() const = 0;
  virtual std::optional<PeerAddress> leader_address() const = 0;
  virtual std::string leader_key() const { return ""; }  // secure mode: in redirects
  // Why this node takes no writes now (its disk is low), or "".
  virtual std::string refuses_writes() const { return ""; }
  virtual raft::RequestStatus propose_key_value(const std::string& command) = 0;
  virtual raft::RequestStatus propose_conf_change(const raft::ConfChange& change) = 0;
  virtual raft::RequestStatus request_transfer(raft::NodeId to) = 0;
  virtual raft::RequestStatus read_index(std::uint64_t request) = 0;
  virtual raft::Index last_index() const = 0;
  virtual raft::Term term() const = 0;
  virtual std::string status_page(const std::string& type, const msgpack::object* id) = 0;  // diagnostic, fl_status
  // The member listening at `address`, if any; the id and member text of a peer to add.
  virtual std::optional<raft::NodeId> member_at(const PeerAddress& address) const = 0;
  virtual std::vector<raft::NodeId> voter_ids() const = 0;  // the voters as applied
  virtual std::string member_key(raft::NodeId id) const = 0;  // its public key ("" if none or not a member)
  virtual Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id,
                          std::string* member) const = 0;
};

class ClientService {
 public:
  // `max_command` bounds an append's command (it must fit one datagram with its entry);
  // `max_kv_bytes` the keys and values stored and proposed (0: no bound).
  // `max_voters`: membership changes that would make more voters are refused (0: no cap).
  ClientService(ClientRaft& raft, const KvStore& kv, std::size_t max_command, std::size_t max_kv_bytes = 0,
                std::size_t max_voters = 0);

  // Writes, membership changes and transfers need an operator (or a local plaintext client);
  // a member's key may read (get, diagnostic, fl_status); a joiner's key (`caller_key`) may read,
  // add itself as a learner and remove itself.
  void handle(const msgpack::object& request, const std::string& type, const msgpack::object* id,
              net::ClientServer::Reply reply, net::ClientCaller caller = net::ClientCaller::kOperator,
              const std::string& caller_key = "");
  // The driver's news: an entry applied, a read confirmed, the batch applied up to `applied`.
  void applied(raft::Index index, raft::Term term);
  void read_confirmed(std::uint64_t request, raft::Index index);
  void serve_reads(raft::Index applied);
  // Not leader (any more): pending writes are answered "outcome unknown" at once, reads not yet
  // confirmed (they never can be) are redirected.
  void leadership_lost();

  std::size_t pending() const { return writes_.size() + reads_.size(); }

 private:
  void get(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply);
  void append(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply);
  void config(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply,
              const std::string* joiner_key = nullptr);
  void transfer(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply);
  void answer_when_applied(raft::RequestStatus status, const msgpack::object* id, net::ClientServer::Reply reply,
                           std::size_t kv_bytes = 0);
  std::string redirect(const msgpack::object* id) const;
  std::string state_map(const msgpack::object* id) const;

  ClientRaft& raft_;
  const KvStore& kv_;
  std::size_t max_command_;
  std::size_t max_kv_bytes_;
  std::size_t max_voters_;
  struct PendingWrite {
    raft::Term term = 0;
    net::ClientServer::Reply reply;
    std::shared_ptr<msgpack::object_handle> id;
    std::size_t kv_bytes = 0;  // a change proposed: counted against the quota until applied
  };
  std::map<raft::Index, PendingWrite> writes_;
  std::size_t pending_kv_bytes_ = 0;  // the kv_bytes of writes_
  struct PendingRead {
    net::ClientServer::Reply reply;
    std::shared_ptr<msgpack::object_handle> id;
    raft::Index index = 0;
    bool confirmed = false;
  };
  std::map<std::uint64_t, PendingRead> reads_;
  std::uint64_t next_read_ = 0;
};

// {type: result, success, reason?}: the answer to writes, membership changes and transfers.
std::string result_response(bool success, const msgpack::object* id, const std::string& reason = "");

}  // namespace fednode
