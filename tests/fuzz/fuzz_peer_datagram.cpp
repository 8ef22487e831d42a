// A peer datagram body, as an --insecure node receives it (v1 or compact) or, failing that, as a
// sealed packed body from node 1 opens: decoded, then stepped into a real Raft follower (of
// three) whose Readies are carried out on memory storage. The decoder must never
// throw or crash, and the core must take whatever decodes without breaking (its invariant
// asserts are on in every build type).
#include <cstdint>
#include <string_view>

#include "fednode/net/peer_codec.h"
#include "fednode/raft/storage.h"
#include "fednode/raft/node.h"
#include "fednode/raft/ready_driver.h"

namespace {

using namespace fednode::raft;
using fednode::Status;

struct MemoryHandler : ReadyHandler {
  explicit MemoryHandler(MemoryStorage& s) : storage(s) {}
  Status persist(const Ready& rd) override {
    if (rd.snapshot) storage.apply_snapshot(*rd.snapshot);
    storage.append(rd.entries);
    if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
    return {};
  }
  Status install(const Snapshot&) override { return {}; }
  void send(const Message&) override {}
  Status apply(const Entry&) override { return {}; }
  void read_ready(const ReadState&) override {}
  Status snapshot(const ConfState&) override { return {}; }
  MemoryStorage& storage;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view datagram(reinterpret_cast<const char*>(data), size);
  Message m;
  if (!fednode::net::decode_peer_message(datagram, "fednode", &m).ok() &&
      !fednode::net::decode_packed_peer_message(datagram, {1, 2}, &m).ok()) {
    return 0;
  }
  MemoryStorage storage;
  std::vector<ConfChange> founders{{ConfChangeType::kAddVoter, 1, ""}, {ConfChangeType::kAddVoter, 2, ""},
                                   {ConfChangeType::kAddVoter, 3, ""}};
  auto entries = Node::bootstrap_entries(founders);
  storage.append(entries);
  storage.set_hard_state({1, kNoNode, entries.back().index});
  Config config;
  config.id = 2;
  Node node(config, storage);
  MemoryHandler handler(storage);
  m.to = 2;
  node.step(m);
  (void)drain_ready(node, handler);
  for (int i = 0; i < 3; ++i) {  // a second look: the message again, after a tick
    node.tick();
    node.step(m);
    (void)drain_ready(node, handler);
  }
  return 0;
}
