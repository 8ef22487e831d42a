#pragma once
// A tiny synchronous network of raft::Nodes over MemoryStorage for rule-by-rule unit tests.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "fednode/raft/conf_change.h"
#include "fednode/raft/node.h"
#include "fednode/raft/ready_driver.h"

#include <gtest/gtest.h>

namespace fednode::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage = std::make_unique<MemoryStorage>();
  std::unique_ptr<Node> node;
  std::vector<Entry> applied;
  std::vector<ReadState> reads;
};

// Ready handling for the tests: MemoryStorage as the disk, messages collected, entries and
// reads recorded, snapshots of a stand-in state ("state@INDEX").
struct Collector : ReadyHandler {
  Collector(TestNode& node, std::vector<Message>& out) : n(node), sent(out) {}
  Status persist(const Ready& rd) override {
    if (rd.snapshot) n.storage->apply_snapshot(*rd.snapshot);
    n.storage->append(rd.entries);
    if (rd.hard_state) n.storage->set_hard_state(*rd.hard_state);
    return {};
  }
  Status install(const Snapshot&) override { return {}; }
  void send(const Message& m) override { sent.push_back(m); }
  Status apply(const Entry& e) override {
    n.applied.push_back(e);
    last_applied = e.index;
    return {};
  }
  void read_ready(const ReadState& r) override { n.reads.push_back(r); }
  Status snapshot(const ConfState& conf) override {
    Index applied = last_applied ? last_applied : n.node->applied_index();
    n.storage->create_snapshot(applied, conf, "state@" + std::to_string(applied));
    return {};
  }
  TestNode& n;
  std::vector<Message>& sent;
  Index last_applied = 0;
};

class TestCluster {
 public:
  // Voters 1..n bootstrapped; `config` tweaks every node's Config.
  explicit TestCluster(int voters, std::function<void(Config&)> tweak = {}) : tweak_(std::move(tweak)) {
    std::vector<ConfChange> founders;
    for (int i = 1; i <= voters; ++i) founders.push_back({ConfChangeType::kAddVoter, NodeId(i), ""});
    auto entries = Node::bootstrap_entries(founders);
    for (int i = 1; i <= voters; ++i) {
      TestNode& n = nodes_[NodeId(i)];
      n.storage->append(entries);
      n.storage->set_hard_state({1, kNoNode, entries.back().index});
      start(NodeId(i));
    }
  }

  Config config_for(NodeId id) const {
    Config c;
    c.id = id;
    c.election_ticks_min = 10;
    c.election_ticks_max = 20;
    c.heartbeat_ticks = 1;
    c.random_seed = 42;
    if (tweak_) tweak_(c);
    return c;
  }

  void start(NodeId id) {
    TestNode& n = nodes_[id];
    n.node = std::make_unique<Node>(config_for(id), *n.storage);
  }
  // A node with empty storage, to be added by a membership change.
  void add_empty(NodeId id) { start(id); }

  Node& node(NodeId id) { return *nodes_.at(id).node; }
  TestNode& at(NodeId id) { return nodes_.at(id); }

  // Persists and collects each node's Ready through the one driver; returns the messages.
  std::vector<Message> collect() {
    std::vector<Message> out;
    for (auto& [id, n] : nodes_) {
      Collector c{n, out};
      Status s = drain_ready(*n.node, c);
      if (!s.ok()) ADD_FAILURE() << s.message();
    }
    return out;
  }

  bool link_up(NodeId a, NodeId b) const { return !cut_.count({a, b}) && !cut_.count({b, a}); }
  void isolate(NodeId id) {
    for (auto& [other, n] : nodes_) {
      if (other != id) cut_.insert({id, other});
    }
  }
  void heal() { cut_.clear(); }

  // Delivers messages until the network is quiet; `filter` may drop (false) any message.
  int deliver_all(std::function<bool(const Message&)> filter = {}) {
    int delivered = 0;
    for (int round = 0; round < 10000; ++round) {
      auto msgs = collect();
      if (msgs.empty()) return delivered;
      for (const auto& m : msgs) {
        sent_.push_back(m);
        if (!nodes_.count(m.to) || !link_up(m.from, m.to)) continue;
        if (filter && !filter(m)) continue;
        nodes_[m.to].node->step(m);
        ++delivered;
      }
    }
    return delivered;
  }

  void tick_all(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node.node->tick();
      deliver_all();
    }
  }

  // Ticks one node `n` times, delivering everything after each tick (nodes' ticks out of phase).
  void tick_node(NodeId id, int n) {
    for (int i = 0; i < n; ++i) {
      node(id).tick();
      deliver_all();
    }
  }

  // Elects `id` by forcing a campaign and delivering everything.
  void elect(NodeId id) {
    node(id).campaign();
    deliver_all();
  }

  std::vector<Message>& sent() { return sent_; }
  std::map<NodeId, TestNode>& nodes() { return nodes_; }

 private:
  std::function<void(Config&)> tweak_;
  std::map<NodeId, TestNode> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::vector<Message> sent_;
};

inline std::vector<std::string> applied_data(const TestNode& n) {
  std::vector<std::string> out;
  for (const auto& e : n.applied) {
    if (e.type == EntryType::kNormal && !e.data.empty()) out.push_back(e.data);
  }
  return out;
}

}  // namespace fednode::raft::testing
