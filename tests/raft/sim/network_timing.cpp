#include "network_timing.h"

#include <map>
#include <memory>
#include <queue>
#include <vector>

#include "fednode/raft/ready_driver.h"
#include "fednode/raft/storage.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::raft::sim {
namespace {

struct Peer {
  std::unique_ptr<MemoryStorage> storage = std::make_unique<MemoryStorage>();
  std::unique_ptr<Node> node;
  Index applied = 0;
  unsigned phase_ms = 0;  // where in the tick period this node's clock ticks
  bool was_leader = false;
  bool was_campaigning = false;
  bool down = false;
};

struct InFlight {
  std::uint64_t at_ms;
  std::uint64_t order;
  Message message;
  bool operator>(const InFlight& o) const { return at_ms != o.at_ms ? at_ms > o.at_ms : order > o.order; }
};

// Disk: MemoryStorage, at once. Network: the caller's path. State machine: counts applies.
class Handler : public ReadyHandler {
 public:
  Handler(Peer& peer, std::vector<Message>& out) : peer_(peer), out_(out) {}
  Status persist(const Ready& rd) override {
    if (rd.snapshot) peer_.storage->apply_snapshot(*rd.snapshot);
    peer_.storage->append(rd.entries);
    if (rd.hard_state) peer_.storage->set_hard_state(*rd.hard_state);
    return {};
  }
  Status install(const Snapshot& s) override {
    peer_.applied = s.meta.index;
    return {};
  }
  void send(const Message& m) override { out_.push_back(m); }
  Status apply(const Entry& e) override {
    peer_.applied = e.index;
    return {};
  }
  void read_ready(const ReadState&) override {}
  Status snapshot(const ConfState& conf) override {
    if (peer_.applied > peer_.storage->snapshot().meta.index) peer_.storage->create_snapshot(peer_.applied, conf, "s");
    return {};
  }

 private:
  Peer& peer_;
  std::vector<Message>& out_;
};

}  // namespace

TimingOutcome run_network_timing(const TimingRun& run) {
  SeededRng rng(run.seed);
  std::map<NodeId, Peer> peers;
  std::vector<ConfChange> founders;
  for (int i = 1; i <= run.voters; ++i) founders.push_back({ConfChangeType::kAddVoter, NodeId(i), ""});
  auto entries = Node::bootstrap_entries(founders);
  for (int i = 1; i <= run.voters; ++i) {
    Peer& p = peers[NodeId(i)];
    p.storage->append(entries);
    p.storage->set_hard_state({1, kNoNode, entries.back().index});
    Config c;
    c.id = NodeId(i);
    c.random_seed = run.seed * 1000 + static_cast<std::uint64_t>(i);
    apply_timing(run.timing, &c);
    p.node = std::make_unique<Node>(c, *p.storage);
    p.phase_ms = static_cast<unsigned>(rng.below(run.timing.tick));
  }

  TimingOutcome out;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> wire;
  std::uint64_t order = 0, sent = 0;
  Term first_term = 0, max_term = 0;
  Index first_commit = 0;
  NodeId last_leader = kNoNode;
  std::vector<Message> outbox;
  auto drain = [&](std::uint64_t now, Peer& p) {
    outbox.clear();
    Handler h(p, outbox);
    if (Status s = drain_ready(*p.node, h); !s.ok()) std::abort();  // MemoryStorage does not fail
    for (auto& m : outbox) {
      ++sent;
      if (rng.chance(run.path.loss)) continue;
      std::uint64_t delay = run.path.rtt_ms / 2 + rng.between(0, run.path.jitter_ms);
      wire.push({now + delay, order++, std::move(m)});
    }
  };
  const std::uint64_t end_ms = static_cast<std::uint64_t>(run.seconds * 1000);
  const std::uint64_t crash_every = static_cast<std::uint64_t>(run.crash_every_s * 1000);
  const std::uint64_t down_ms = static_cast<std::uint64_t>(run.down_s * 1000);
  NodeId crashed = kNoNode;
  std::uint64_t crashed_at = 0;
  bool failed_over = false;
  const std::uint64_t write_every = run.writes_per_s ? 1000 / run.writes_per_s : 0;
  for (std::uint64_t now = 0; now < end_ms; ++now) {
    while (!wire.empty() && wire.top().at_ms <= now) {
      Message m = wire.top().message;
      wire.pop();
      auto it = peers.find(m.to);
      if (it == peers.end() || it->second.down || peers.at(m.from).down) continue;
      it->second.node->step(m);
      drain(now, it->second);
    }
    if (crash_every && now % crash_every == 0 && now > 0 && crashed == kNoNode && last_leader != kNoNode) {
      crashed = last_leader;
      crashed_at = now;
      failed_over = false;
      peers.at(crashed).down = true;
      ++out.crashes;
    }
    if (crashed != kNoNode && now == crashed_at + down_ms) {
      peers.at(crashed).down = false;
      crashed = kNoNode;
    }
    for (auto& [id, p] : peers) {
      if (p.down) continue;
      if ((now + p.phase_ms) % run.timing.tick == 0) {
        p.node->tick();
        drain(now, p);
      }
    }
    NodeId leader = kNoNode;
    Term leader_term = 0;
    for (auto& [id, p] : peers) {
      if (p.down) continue;
      max_term = std::max(max_term, p.node->term());
      bool is_leader = p.node->role() == Role::kLeader;
      bool campaigning = p.node->role() == Role::kPreCandidate || p.node->role() == Role::kCandidate;
      if (p.was_leader && !is_leader) ++out.step_downs;
      if (first_term != 0 && campaigning && !p.was_campaigning) ++out.campaigns;
      p.was_leader = is_leader;
      p.was_campaigning = campaigning;
      if (is_leader && p.node->term() >= leader_term) {
        leader = id;
        leader_term = p.node->term();
      }
    }
    if (leader != kNoNode) {
      Peer& lp = peers.at(leader);
      if (first_term == 0) {
        first_term = leader_term;
        first_commit = lp.node->commit_index();
        out.first_leader_s = static_cast<double>(now) / 1000;
      } else if (leader != last_leader) {
        ++out.leader_changes;
      }
      last_leader = leader;
      if (crashed != kNoNode && !failed_over && leader != crashed && lp.node->commit_index() >= lp.node->term_start_index()) {
        double t = static_cast<double>(now - crashed_at) / 1000;
        ++out.failovers;
        out.failover_mean_s += t;
        out.failover_max_s = std::max(out.failover_max_s, t);
        failed_over = true;
      }
      if (write_every && now % write_every == 0) {
        if (lp.node->propose(std::string(100, 'w')) == RequestStatus::kOk) ++out.proposed;
        drain(now, lp);
      }
    }
  }
  if (first_term != 0) out.elections = max_term - first_term;
  if (last_leader != kNoNode) {
    const Peer& p = peers.at(last_leader);
    out.committed = p.node->commit_index() - first_commit;
  }
  out.messages_per_s = static_cast<double>(sent) / run.seconds;
  if (out.failovers) out.failover_mean_s /= static_cast<double>(out.failovers);
  return out;
}

}  // namespace fednode::raft::sim
