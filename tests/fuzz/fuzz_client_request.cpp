// The client channel's bytes, as the server reads them: a stream of msgpack requests decoded
// under the client limits, each handed to the client protocol (ClientService) of a leader whose
// proposals are validated, applied to a real state machine, and answered.
#include <msgpack.hpp>

#include <cstdint>
#include <string>

#include "fednode/app/client_service.h"
#include "fednode/app/state_machine.h"
#include "fednode/util/msgpack_fields.h"
#include "fednode/util/msgpack_limits.h"

namespace {

using namespace fednode;

class LeaderRaft : public ClientRaft {
 public:
  explicit LeaderRaft(StateMachine& sm) : sm_(sm) {}
  bool is_leader() const override { return true; }
  std::optional<PeerAddress> leader_address() const override { return PeerAddress{"127.0.0.1", 5000}; }
  raft::RequestStatus propose_key_value(const std::string& command) override {
    fl::RoundEvent event;
    std::string why;
    (void)sm_.apply(StateMachine::tagged(StateMachine::Kind::kKeyValue, command), &event, &why);
    ++last_;
    return raft::RequestStatus::kOk;
  }
  raft::RequestStatus propose_conf_change(const raft::ConfChange&) override { return ++last_, raft::RequestStatus::kOk; }
  raft::RequestStatus request_transfer(raft::NodeId) override { return raft::RequestStatus::kOk; }
  raft::RequestStatus read_index(std::uint64_t) override { return raft::RequestStatus::kOk; }
  raft::Index last_index() const override { return last_; }
  raft::Term term() const override { return 1; }
  std::string status_page(const std::string& type, const msgpack::object*) override { return type; }
  std::optional<raft::NodeId> member_at(const PeerAddress&) const override { return 7; }
  std::vector<raft::NodeId> voter_ids() const override { return {1, 2, 3}; }
  std::string member_key(raft::NodeId id) const override { return id == 7 ? "joiner-key" : ""; }
  Status identify(const PeerAddress& address, const std::string& key, raft::NodeId* id, std::string* member) const override {
    if (key.empty()) return Status::error("no key");
    *id = 9;
    *member = address.to_string() + "=" + key;
    return {};
  }

 private:
  StateMachine& sm_;
  raft::Index last_ = 10;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxRequest = 1 << 20;
  StateMachine sm;
  LeaderRaft raft(sm);
  ClientService service(raft, sm.kv(), 60000, 1 << 20);
  msgpack::unpacker unpacker(nullptr, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE,
                             input_limit(kMaxRequest, kMaxClientDepth));
  unpacker.reserve_buffer(size);
  std::memcpy(unpacker.buffer(), data, size);
  unpacker.buffer_consumed(size);
  std::size_t answered = 0;
  auto reply = [&answered](std::string, bool) { ++answered; };
  try {
    msgpack::object_handle h;
    while (unpacker.next(h)) {
      const msgpack::object& req = h.get();
      if (req.type != msgpack::type::MAP) break;
      const msgpack::object* type = map_field(req, "type");
      if (!type || type->type != msgpack::type::STR) break;
      for (auto caller : {net::ClientCaller::kOperator, net::ClientCaller::kMember, net::ClientCaller::kJoiner}) {
        service.handle(req, std::string(type->via.str.ptr, type->via.str.size), map_field(req, "id"), reply, caller,
                       "joiner-key");
      }
      service.applied(raft.last_index(), 1);
      service.serve_reads(raft.last_index());
    }
  } catch (const std::exception&) {
    // Not msgpack: the server answers with an error and closes.
  }
  service.leadership_lost();
  (void)sm.restore(sm.snapshot());
  return 0;
}
