#include "fednode/app/client_service.h"

#include <algorithm>

#include "fednode/app/membership.h"
#include "fednode/app/state_machine.h"
#include "fednode/util/msgpack_fields.h"

namespace fednode {
namespace {

std::shared_ptr<msgpack::object_handle> copy_id(const msgpack::object* id) {
  if (!id) return nullptr;
  msgpack::sbuffer b;
  msgpack::pack(b, *id);
  return std::make_shared<msgpack::object_handle>(msgpack::unpack(b.data(), b.size()));
}

const msgpack::object* id_of(const std::shared_ptr<msgpack::object_handle>& h) { return h ? &h->get() : nullptr; }

bool flag(const msgpack::object& req, const char* name) {
  const msgpack::object* f = map_field(req, name);
  return is_true(f);
}

// The peer named by a request's `address` and `port` fields.
std::optional<PeerAddress> request_peer(const msgpack::object& req, std::string* why) {
  const msgpack::object* port = map_field(req, "port");
  if (!port || port->type != msgpack::type::POSITIVE_INTEGER) return std::nullopt;
  return parse_peer_address(as_string(map_field(req, "address")) + ":" + std::to_string(port->via.u64), why);
}

}  // namespace

std::string result_response(bool success, const msgpack::object* id, const std::string& reason) {
  net::Response r(reason.empty() ? 2 : 3, id);
  r.pack().pack("type");
  r.pack().pack("result");
  r.pack().pack("success");
  r.pack().pack(success);
  if (!reason.empty()) {
    r.pack().pack("reason");
    r.pack().pack(reason);
  }
  r.finish();
  return r.bytes();
}

// Neither success nor failure: a client library that reads `success: false` as "did not happen"
// would be wrong about a write that commits after all.
std::string unknown_response(const msgpack::object* id, const std::string& reason) {
  net::Response r(2, id);
  r.pack().pack("type");
  r.pack().pack("unknown");
  r.pack().pack("reason");
  r.pack().pack(reason);
  r.finish();
  return r.bytes();
}

ClientService::ClientService(ClientRaft& raft, const KvStore& kv, std::size_t max_command, std::size_t max_kv_bytes,
                             std::size_t max_voters)
    : raft_(raft), kv_(kv), max_command_(max_command), max_kv_bytes_(max_kv_bytes), max_voters_(max_voters) {}

void ClientService::handle(const msgpack::object& req, const std::string& type, const msgpack::object* id,
                           net::ClientServer::Reply reply, net::ClientCaller caller, const std::string& caller_key) {
  if (type == "diagnostic" || type == "fl_status") return reply(raft_.status_page(type, id), false);
  if (type == "get") return get(req, id, std::move(reply));
  if (caller == net::ClientCaller::kJoiner && type == "config") return config(req, id, std::move(reply), &caller_key);
  if ((caller == net::ClientCaller::kMember || caller == net::ClientCaller::kJoiner) &&
      (type == "append" || type == "config" || type == "transfer")) {
    return reply(result_response(false, id, type + " needs an operator key (a member's key may only read)"), false);
  }
  if (type == "append") return append(req, id, std::move(reply));
  if (type == "config") return config(req, id, std::move(reply));
  if (type == "transfer") return transfer(req, id, std::move(reply));
  reply(net::error_response("unknown request type '" + type + "'", id), true);
}

void ClientService::get(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply) {
  if (flag(req, "stale")) return reply(state_map(id), false);
  if (!raft_.is_leader()) return reply(redirect(id), false);
  std::uint64_t rid = ++next_read_;
  if (raft_.read_index(rid) != raft::RequestStatus::kOk) return reply(redirect(id), false);
  reads_[rid] = PendingRead{std::move(reply), copy_id(id)};
}

void ClientService::append(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply) {
  const msgpack::object* data = map_field(req, "data");
  if (!data || data->type != msgpack::type::MAP) {
    return reply(net::error_response("field data must be a map {action, key, value}", id), true);
  }
  msgpack::sbuffer b;
  msgpack::pack(b, *data);
  std::string command(b.data(), b.size());
  std::size_t adds = 0;
  if (Status s = KvStore::validate(command, &adds); !s.ok()) return reply(net::error_response(s.message(), id), true);
  if (command.size() > max_command_) {
    return reply(net::error_response("command of " + std::to_string(command.size()) +
                                         " bytes exceeds the datagram bound (--max-datagram)",
                                     id),
                 true);
  }
  if (!raft_.is_leader()) return reply(redirect(id), false);
  if (std::string why = raft_.refuses_writes(); !why.empty()) return reply(result_response(false, id, why), false);
  // Deletes always pass: they are how a full store is emptied.
  if (max_kv_bytes_ != 0 && adds != 0) {
    std::size_t proposed = pending_kv_bytes_;
    if (kv_.bytes() + proposed + adds > max_kv_bytes_) {
      return reply(result_response(false, id,
                                   "key-value store full: " + std::to_string(kv_.bytes() + proposed) +
                                       " bytes stored or proposed, --max-kv-bytes " + std::to_string(max_kv_bytes_)),
                   false);
    }
  }
  answer_when_applied(raft_.propose_key_value(command), id, std::move(reply), adds);
}

void ClientService::config(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply,
                           const std::string* joiner_key) {
  std::string action = as_string(map_field(req, "action"));
  std::string why;
  auto addr = request_peer(req, &why);
  if ((action != "add" && action != "delete") || !addr) {
    return reply(net::error_response(addr ? "field action must be add or delete"
                                          : "fields address and port must name a peer " + why,
                                     id),
                 true);
  }
  if (!raft_.is_leader()) return reply(redirect(id), false);
  if (std::string why = raft_.refuses_writes(); !why.empty()) return reply(result_response(false, id, why), false);
  raft::ConfChange cc;
  if (action == "delete") {
    auto member = raft_.member_at(*addr);
    if (!member) return reply(result_response(false, id, "no member at " + addr->to_string()), false);
    // A joiner may leave, not remove others (a member's id follows from its key).
    if (joiner_key && raft_.member_key(*member) != *joiner_key) {
      return reply(result_response(false, id, "a joiner's key may remove only its own node, not " + addr->to_string()),
                   false);
    }
    cc.node = *member;
    cc.type = raft::ConfChangeType::kRemove;
  } else {
    if (joiner_key && (as_string(map_field(req, "key")) != *joiner_key || !flag(req, "learner"))) {
      return reply(result_response(false, id, "a joiner's key may add only itself, as a learner"), false);
    }
    if (Status s = raft_.identify(*addr, as_string(map_field(req, "key")), &cc.node, &cc.context); !s.ok()) {
      return reply(net::error_response(s.message(), id), true);
    }
    // A joiner that is a member already (it asked again before it heard, or an operator added
    // it) has nothing to wait for; its role stays what it is.
    if (joiner_key && !raft_.member_key(cc.node).empty()) return reply(result_response(true, id), false);
    cc.type = flag(req, "learner") ? raft::ConfChangeType::kAddLearner : raft::ConfChangeType::kAddVoter;
    // A member already at this address under another id (a joiner that made a new key) would
    // leave a dead member behind: the operator removes that one first.
    if (auto there = raft_.member_at(*addr); there && *there != cc.node) {
      return reply(result_response(false, id,
                                   addr->to_string() + " is already a member with another key: remove it first"),
                   false);
    }
    // A few voters decide; everyone else who joins trains as a learner.
    auto voters = raft_.voter_ids();
    bool already = std::find(voters.begin(), voters.end(), cc.node) != voters.end();
    if (cc.type == raft::ConfChangeType::kAddVoter && max_voters_ != 0 && !already && voters.size() >= max_voters_) {
      return reply(result_response(false, id,
                                   "the group keeps " + std::to_string(max_voters_) +
                                       " voters (--max-voters): add " + addr->to_string() + " as a learner"),
                   false);
    }
  }
  answer_when_applied(raft_.propose_conf_change(cc), id, std::move(reply));
}

// Our own request: hand leadership to the peer at {address, port}.
void ClientService::transfer(const msgpack::object& req, const msgpack::object* id, net::ClientServer::Reply reply) {
  std::string why;
  auto addr = request_peer(req, &why);
  if (!addr) return reply(net::error_response("fields address and port must name a peer " + why, id), true);
  if (!raft_.is_leader()) return reply(redirect(id), false);
  auto member = raft_.member_at(*addr);
  if (!member) return reply(result_response(false, id, "no member at " + addr->to_string()), false);
  auto status = raft_.request_transfer(*member);
  reply(result_response(status == raft::RequestStatus::kOk, id,
                        status == raft::RequestStatus::kOk ? "" : raft::request_status_name(status)),
        false);
}

// A proposal the node took is answered once its entry is applied (success if it is still ours).
void ClientService::answer_when_applied(raft::RequestStatus status, const msgpack::object* id,
                                        net::ClientServer::Reply reply, std::size_t kv_bytes) {
  if (status != raft::RequestStatus::kOk) return reply(result_response(false, id, raft::request_status_name(status)), false);
  auto& slot = writes_[raft_.last_index()];
  pending_kv_bytes_ -= slot.kv_bytes;  // an entry a previous term left at this index
  slot = PendingWrite{raft_.term(), std::move(reply), copy_id(id), kv_bytes};
  pending_kv_bytes_ += kv_bytes;
}

void ClientService::applied(raft::Index index, raft::Term term) {
  auto it = writes_.find(index);
  if (it == writes_.end()) return;
  it->second.reply(result_response(it->second.term == term, id_of(it->second.id)), false);
  pending_kv_bytes_ -= it->second.kv_bytes;
  writes_.erase(it);
}

void ClientService::read_confirmed(std::uint64_t request, raft::Index index) {
  auto it = reads_.find(request);
  if (it == reads_.end()) return;
  it->second.index = index;
  it->second.confirmed = true;
}

void ClientService::serve_reads(raft::Index applied) {
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.confirmed && applied >= it->second.index) {
      it->second.reply(state_map(id_of(it->second.id)), false);
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClientService::leadership_lost() {
  // A deposed leader cannot tell whether its pending entries will commit (the new leader may
  // hold them or not): the client hears so now instead of waiting for an answer that may never
  // come (this node may stay cut off).
  for (auto& [index, w] : writes_) {
    w.reply(unknown_response(id_of(w.id), "outcome unknown: this node lost the leadership before entry " +
                                              std::to_string(index) +
                                              " committed; it may still commit (read before retrying)"),
            false);
  }
  writes_.clear();
  pending_kv_bytes_ = 0;
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.confirmed) {
      ++it;
      continue;
    }
    it->second.reply(redirect(id_of(it->second.id)), false);
    it = reads_.erase(it);
  }
}

std::string ClientService::redirect(const msgpack::object* id) const {
  auto addr = raft_.leader_address();
  // In secure mode a third field names the key the leader must prove, for clients that follow
  // redirects over sealed connections (zatt clients read `leader` and ignore the rest).
  std::string key = addr ? raft_.leader_key() : "";
  net::Response r(key.empty() ? 2 : 3, id);
  r.pack().pack("type");
  r.pack().pack("redirect");
  r.pack().pack("leader");
  if (addr) {
    r.pack().pack_array(2);
    r.pack().pack(addr->host);
    r.pack().pack(addr->port);
  } else {
    r.pack().pack_nil();
  }
  if (!key.empty()) {
    r.pack().pack("leader_key");
    r.pack().pack(key);
  }
  r.finish();
  return r.bytes();
}

// zatt answers `get` with the state map itself.
std::string ClientService::state_map(const msgpack::object* id) const {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(static_cast<std::uint32_t>(kv_.entries().size() + (id ? 1 : 0)));
  for (const auto& [k, v] : kv_.entries()) {
    p.pack(k);
    b.write(v.data(), v.size());
  }
  if (id) {
    p.pack("id");
    p.pack(*id);
  }
  return std::string(b.data(), b.size());
}

}  // namespace fednode
