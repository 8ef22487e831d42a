#include "simulation.h"

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "fednode/raft/conf_change.h"
#include "fednode/raft/ready_driver.h"
#include "fednode/util/seeded_rng.h"
#include "seed_runner.h"
#include "sim_network.h"

namespace fednode::raft::sim {
namespace {

// What the node reads (storage_) and what survives a crash (durable_): they differ by the
// background writes not yet completed.
class MemoryDisk : public SimDisk {
 public:
  Storage& storage() override { return storage_; }
  void save(const Ready& rd) override {
    complete_async(written_);
    write(storage_, rd);
    write(durable_, rd);
  }
  std::uint64_t save_async(const Ready& rd) override {
    write(storage_, rd);
    pending_.push_back({++written_, rd});
    return written_;
  }
  void complete_async(std::uint64_t through) override {
    while (!pending_.empty() && pending_.front().first <= through) {
      write(durable_, pending_.front().second);
      pending_.pop_front();
    }
  }
  void create_snapshot(Index index, const ConfState& conf, std::string data) override {
    Term term = *storage_.term(index);
    storage_.create_snapshot(index, conf, data);
    // The snapshot is written durably at once, even past the durable end of the log.
    if (index <= durable_.snapshot().meta.index) return;
    if (index <= durable_.last_index() && durable_.term(index) == term) {
      durable_.create_snapshot(index, conf, std::move(data));
    } else {
      durable_.apply_snapshot({{index, term, conf}, std::move(data)});
    }
  }
  void bootstrap(const std::vector<Entry>& entries, const HardState& hs) override {
    for (auto* s : {&storage_, &durable_}) {
      s->append(entries);
      s->set_hard_state(hs);
    }
  }
  void reopen() override {
    storage_ = durable_;
    pending_.clear();
  }
  bool back_up() override {
    backup_ = durable_;
    return true;
  }
  bool restore_backup() override {
    if (!backup_) return false;
    durable_ = *backup_;
    storage_ = durable_;
    pending_.clear();
    return true;
  }

 private:
  static void write(MemoryStorage& s, const Ready& rd) {
    if (rd.snapshot) s.apply_snapshot(*rd.snapshot);
    std::vector<Entry> entries;
    for (const auto& e : rd.entries) {
      if (e.index > s.snapshot().meta.index) entries.push_back(e);
    }
    if (!entries.empty() && entries.front().index <= s.last_index() + 1) s.append(entries);
    if (rd.hard_state) s.set_hard_state(*rd.hard_state);
  }
  MemoryStorage storage_, durable_;
  std::optional<MemoryStorage> backup_;
  std::uint64_t written_ = 0;                          // background writes so far
  std::deque<std::pair<std::uint64_t, Ready>> pending_;  // not yet durable, oldest first
};

// Deterministic on every platform (unlike std:: distributions).
class Rng : public SeededRng {
 public:
  explicit Rng(std::uint64_t seed) : SeededRng(seed ^ 0x5851f42d4c957f2dull) {}
};

std::uint64_t fnv(std::uint64_t h, const std::string& s) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::uint64_t chain(std::uint64_t h, const Entry& e) {
  h = fnv(h, std::to_string(e.index) + "/" + std::to_string(e.term) + "/" +
                 std::to_string(static_cast<int>(e.type)));
  return fnv(h, e.data);
}

// Snapshot data: "index:hash:" plus padding derived from the hash, so that snapshots span
// several chunks and a mis-assembled one is detected.
std::string snapshot_data(Index index, std::uint64_t hash, std::size_t pad) {
  std::string s = std::to_string(index) + ":" + std::to_string(hash) + ":";
  std::uint64_t x = hash;
  for (std::size_t i = 0; i < pad; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    s.push_back(static_cast<char>('a' + (x >> 59)));
  }
  return s;
}

struct Peer {
  NodeId id = 0;
  std::unique_ptr<SimDisk> disk;
  std::unique_ptr<Node> node;
  bool alive = false;
  int restart_at = 0;
  int side = 0;  // partition side
  bool decommissioned = false;  // removed from the group and shut down (until added back)
  std::uint64_t crash_at = 0;   // scheduled crash (0: none)
  bool dies_in_persist = false; // the crash of the Ready being handled, before its disk write
  std::uint64_t incarnation = 0;  // starts so far: background writes of an earlier one are lost
  std::uint64_t last_durable_at = 0;
  // The replicated state machine: a hash chain over applied entries.
  Index applied = 0;
  std::uint64_t hash = 0xcbf29ce484222325ull;
  Role last_role = Role::kFollower;
  struct WaitingRead {
    ReadState state;
    Index required;
  };
  std::vector<WaitingRead> waiting_reads;
};

// A background write becoming durable.
struct Durable {
  std::uint64_t at;
  NodeId peer;
  std::uint64_t incarnation;
  Index index;
  Term term;
  std::uint64_t write;  // SimDisk::save_async's number for it
};

class PeerHandler;

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : opt_(o), rng_(o.seed) { configure(); }
  SimResult run();

 private:
  void configure();
  void trace(const std::string& line) {
    if (opt_.trace) result_.trace.push_back("t=" + std::to_string(now_) + " " + line);
  }
  void fail(const std::string& why) {
    if (result_.ok) {
      result_.ok = false;
      result_.failure = "seed " + std::to_string(opt_.seed) + " step " + std::to_string(now_) + ": " + why;
      trace("FAIL " + why);
      if (opt_.trace) dump_nodes();
    }
  }
  void dump_nodes() {
    for (auto& [id, p] : peers_) {
      if (!p.alive) {
        trace("  node " + std::to_string(id) + (p.decommissioned ? " decommissioned" : " down"));
        continue;
      }
      const Node& n = *p.node;
      std::string voters, learners;
      for (auto v : n.conf_state().voters) voters += std::to_string(v) + ",";
      for (auto v : n.conf_state().learners) learners += std::to_string(v) + ",";
      trace("  node " + std::to_string(id) + " " + role_name(n.role()) + " term " +
            std::to_string(n.term()) + " leader " + std::to_string(n.leader()) + " log [" +
            std::to_string(n.first_index()) + "," + std::to_string(n.last_index()) + "] commit " +
            std::to_string(n.commit_index()) + " applied " + std::to_string(p.applied) +
            " voters " + voters + " learners " + learners);
      std::string terms;
      for (Index i = std::max(n.first_index(), n.last_index() > 6 ? n.last_index() - 6 : 1); i <= n.last_index(); ++i) {
        auto t = n.log_term(i);
        terms += " " + std::to_string(i) + ":" + (t ? std::to_string(*t) : "?");
      }
      trace("    tail" + terms);
      for (const auto& f : n.followers()) {
        trace("    -> " + std::to_string(f.id) + " match " + std::to_string(f.match) + " next " +
              std::to_string(f.next) + " " + f.state + (f.recent_active ? " active" : ""));
      }
    }
  }
  Peer& add_peer(NodeId id);
  void start(Peer& p);
  void crash(Peer& p);
  friend class PeerHandler;
  void handle_ready(Peer& p);
  void serve_reads(Peer& p);
  void apply(Peer& p, const Entry& e);
  void install_snapshot(Peer& p, const Snapshot& s);
  void send(const Message& m);
  void deliver_due();
  void complete_durable_due();
  void faults();
  void client_requests();
  void membership_and_transfers();
  void check_leaders();
  void check_vote(const Message& m);
  void check_log_matching();
  bool liveness_reached();
  Peer* leader();
  bool connected(NodeId a, NodeId b) const;

  SimOptions opt_;
  Rng rng_;
  SimResult result_;
  std::map<NodeId, Peer> peers_;
  sim_support::SimNetwork network_;
  std::deque<Durable> durable_queue_;
  std::uint64_t now_ = 0;
  bool faults_on_ = true;
  Config base_config_;
  // Fault rates for this seed.
  double drop_ = 0, dup_ = 0, persist_crash_rate_ = 0, crash_rate_ = 0, leader_crash_rate_ = 0, new_leader_crash_rate_ = 0, partition_rate_ = 0, heal_rate_ = 0;
  double propose_rate_ = 0, read_rate_ = 0, conf_rate_ = 0, transfer_rate_ = 0;
  int max_delay_ = 0;
  std::size_t snapshot_pad_ = 0;
  bool partitioned_ = false;
  NodeId next_id_ = 1;
  // Global knowledge for the checks.
  std::map<Term, NodeId> leader_of_term_;
  std::map<std::pair<NodeId, Term>, NodeId> vote_of_;  // (voter, term) -> the candidate it granted
  std::map<NodeId, Index> added_at_, removed_at_;       // the latest membership entries naming a node
  struct Committed {
    Term term;            // the entry's term
    std::uint64_t hash;   // state machine hash after applying it
    Term seen_in_term;    // lowest term of a node that applied it: >= the term it was committed in
  };
  std::map<Index, Committed> committed_;
  std::map<std::string, NodeId> proposer_of_;
  Index acked_max_index_ = 0;
  std::uint64_t proposals_ = 0;
  std::uint64_t reads_ = 0;
  std::map<std::uint64_t, Index> read_required_;
  std::set<NodeId> to_decommission_;
  std::vector<std::string> markers_;
  std::uint64_t marker_at_ = 0;
};

void Simulation::configure() {
  base_config_.election_ticks_min = 10;
  base_config_.election_ticks_max = 20;
  base_config_.heartbeat_ticks = 2;
  base_config_.bugs = opt_.bugs;
  int voters = opt_.voters, learners = opt_.learners;
  drop_ = 0.05;
  dup_ = 0.02;
  max_delay_ = 3;
  crash_rate_ = 0.004;
  persist_crash_rate_ = 0.002;
  partition_rate_ = 0.004;
  heal_rate_ = 0.03;
  propose_rate_ = 0.3;
  read_rate_ = 0.05;
  conf_rate_ = 0.01;
  transfer_rate_ = 0.004;
  snapshot_pad_ = 300;
  base_config_.max_message_bytes = 4096;
  base_config_.snapshot_entries = 30;
  base_config_.snapshot_log_ratio = 0;  // entries alone: frequent snapshots, so installs happen often
  if (opt_.randomize) {
    // Swarm testing: each seed picks its own mix, weighted towards the small groups and tight
    // message budgets where partial replication (and so most Raft bugs) shows up.
    static constexpr int kVoters[] = {3, 3, 3, 5, 5, 7};
    voters = kVoters[rng_.below(6)];
    learners = static_cast<int>(rng_.below(3));
    // From a few entries per message (a tight datagram bound) to many.
    static constexpr std::size_t kBudgets[] = {40, 40, 100, 200, 600, 4096};
    base_config_.max_message_bytes = kBudgets[rng_.below(6)];
    base_config_.max_uncommitted_bytes = 30 * base_config_.max_message_bytes;
    static constexpr std::uint64_t kSnap[] = {8, 25, 60, 100000};
    base_config_.snapshot_entries = kSnap[rng_.below(4)];
    base_config_.max_inflight_appends = 2 + rng_.below(7);
    base_config_.max_inflight_chunks = 1 + rng_.below(4);
    base_config_.pre_vote = !rng_.chance(0.15);
    base_config_.check_quorum = !rng_.chance(0.15);
    drop_ = 0.2 * static_cast<double>(rng_.below(100)) / 100.0;
    dup_ = 0.05 * static_cast<double>(rng_.below(100)) / 100.0;
    max_delay_ = static_cast<int>(1 + rng_.below(8));
    crash_rate_ = 0.01 * static_cast<double>(rng_.below(100)) / 100.0;
    leader_crash_rate_ = 0.02 * static_cast<double>(rng_.below(100)) / 100.0;
    new_leader_crash_rate_ = 0.1 + 0.4 * static_cast<double>(rng_.below(100)) / 100.0;
    partition_rate_ = 0.01 * static_cast<double>(rng_.below(100)) / 100.0;
    propose_rate_ = 0.1 + 0.6 * static_cast<double>(rng_.below(100)) / 100.0;
    // At most ~16 chunks per snapshot, so a transfer fits the liveness bound.
    snapshot_pad_ = rng_.below(std::min<std::uint64_t>(2000, base_config_.max_message_bytes * 16));
    persist_crash_rate_ = 0.005 * static_cast<double>(rng_.below(100)) / 100.0;
    base_config_.async_leader_persist = rng_.chance(0.5);
    // A third of the seeds run the daemon's slow heartbeat with resends. Drawn from its own
    // stream, so every other seed keeps the run it had before resends existed.
    Rng timing(opt_.seed * 0x9e3779b97f4a7c15ull + 11);
    if (timing.chance(1.0 / 3)) {
      base_config_.heartbeat_ticks = 6;
      base_config_.heartbeat_resend_ticks = static_cast<int>(1 + timing.below(2));
    }
  } else {
    base_config_.async_leader_persist = opt_.async_leader_persist;
  }
  char text[400];
  std::snprintf(text, sizeof text,
                "voters=%d learners=%d budget=%zu inflight=%zu chunks=%zu snapshot_every=%llu "
                "pre_vote=%d check_quorum=%d drop=%.3f dup=%.3f max_delay=%d crash=%.4f "
                "leader_crash=%.4f new_leader_crash=%.3f partition=%.4f propose=%.2f async_persist=%d "
                "heartbeat=%d resend=%d",
                voters, learners, base_config_.max_message_bytes, base_config_.max_inflight_appends,
                base_config_.max_inflight_chunks,
                static_cast<unsigned long long>(base_config_.snapshot_entries), base_config_.pre_vote,
                base_config_.check_quorum, drop_, dup_, max_delay_, crash_rate_, leader_crash_rate_,
                new_leader_crash_rate_, partition_rate_, propose_rate_, base_config_.async_leader_persist,
                base_config_.heartbeat_ticks, base_config_.heartbeat_resend_ticks);
  result_.stats.parameters = text;
  trace(std::string("parameters ") + text);
  result_.stats.voters = voters;
  result_.stats.learners = learners;
  std::vector<ConfChange> founders;
  for (int i = 0; i < voters; ++i) {
    NodeId id = next_id_++;
    founders.push_back({ConfChangeType::kAddVoter, id, "node" + std::to_string(id)});
  }
  auto entries = Node::bootstrap_entries(founders);
  HardState hs{1, kNoNode, entries.back().index};
  for (const auto& f : founders) {
    Peer& p = add_peer(f.node);
    p.disk->bootstrap(entries, hs);
    start(p);
  }
  for (int i = 0; i < learners; ++i) add_peer(next_id_++);  // joined by membership_and_transfers
}

Peer& Simulation::add_peer(NodeId id) {
  Peer& p = peers_[id];
  p.id = id;
  p.disk = opt_.disk(id);
  return p;
}

void Simulation::start(Peer& p) {
  Config c = base_config_;
  c.id = p.id;
  c.random_seed = opt_.seed * 1000003 + now_;
  p.node = std::make_unique<Node>(c, p.disk->storage());
  p.alive = true;
  p.waiting_reads.clear();
  p.last_role = Role::kFollower;
  // The state machine restarts from the snapshot; entries after it are applied again.
  const Snapshot& snap = p.disk->storage().snapshot();
  p.applied = 0;
  p.hash = 0xcbf29ce484222325ull;
  if (!snap.empty()) install_snapshot(p, snap);
  trace("start " + std::to_string(p.id) + " term=" + std::to_string(p.node->term()) +
        " last=" + std::to_string(p.node->last_index()));
}

void Simulation::crash(Peer& p) {
  trace("crash " + std::to_string(p.id));
  p.node.reset();  // whatever was not handed to the disk is lost
  ++p.incarnation;  // and so are its background writes still under way
  p.crash_at = 0;
  p.disk->reopen();
  p.alive = false;
  p.restart_at = static_cast<int>(now_ + 5 + rng_.below(60));
  ++result_.stats.crashes;
}

void Simulation::install_snapshot(Peer& p, const Snapshot& s) {
  std::string text = s.data;
  auto c1 = text.find(':');
  auto c2 = text.find(':', c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos) {
    fail("node " + std::to_string(p.id) + " got a malformed snapshot");
    return;
  }
  Index index = std::stoull(text.substr(0, c1));
  std::uint64_t hash = std::stoull(text.substr(c1 + 1, c2 - c1 - 1));
  if (index != s.meta.index) fail("snapshot data index differs from its metadata");
  if (text != snapshot_data(index, hash, text.size() - c2 - 1)) fail("snapshot data corrupted");
  auto known = committed_.find(index);
  if (known != committed_.end() && (known->second.hash != hash || known->second.term != s.meta.term)) {
    fail("node " + std::to_string(p.id) + " installed a snapshot at " + std::to_string(index) +
         " that differs from the committed state");
  }
  p.applied = index;
  p.hash = hash;
}

void Simulation::apply(Peer& p, const Entry& e) {
  if (e.index != p.applied + 1) {
    fail("node " + std::to_string(p.id) + " applied index " + std::to_string(e.index) +
         " after " + std::to_string(p.applied));
    return;
  }
  p.applied = e.index;
  p.hash = chain(p.hash, e);
  auto [it, fresh] = committed_.emplace(e.index, Committed{e.term, p.hash, p.node->term()});
  it->second.seen_in_term = std::min(it->second.seen_in_term, p.node->term());
  if (fresh) {
    ++result_.stats.entries_committed;
    if (e.type == EntryType::kConfChange) ++result_.stats.conf_changes;
  } else if (it->second.term != e.term || it->second.hash != p.hash) {
    // State machine safety (§5.4.3): no two nodes apply different entries at one index.
    fail("state machine safety: node " + std::to_string(p.id) + " applied (index " +
         std::to_string(e.index) + ", term " + std::to_string(e.term) +
         ") unlike an earlier apply (term " + std::to_string(it->second.term) + ")");
  }
  auto prop = proposer_of_.find(e.data);
  if (prop != proposer_of_.end() && prop->second == p.id) {
    acked_max_index_ = std::max(acked_max_index_, e.index);  // the client hears "success"
    ++result_.stats.writes_acked;
    proposer_of_.erase(prop);
  }
  if (e.type == EntryType::kConfChange) {
    auto change = decode_conf_change(e.data);
    if (change) {
      Index& at = change->type == ConfChangeType::kRemove ? removed_at_[change->node] : added_at_[change->node];
      at = std::max(at, e.index);
      if (removed_at_[change->node] > added_at_[change->node]) to_decommission_.insert(change->node);
    }
  }
}

// What the one driver (ready_driver.h) does with a simulated peer's Ready.
class PeerHandler : public ReadyHandler {
 public:
  PeerHandler(Simulation& sim, Peer& peer) : sim_(sim), p_(peer) {}
  // A node may die in the middle of a Ready: what it sent before persisting is out, its disk
  // has none of the Ready.
  Status persist(const Ready& rd) override {
    if (sim_.faults_on_ && sim_.rng_.chance(sim_.persist_crash_rate_)) {
      p_.dies_in_persist = true;
      return Status::error("crashed before its disk write");
    }
    p_.disk->save(rd);
    return {};
  }
  // Written now, durable a few ticks later (in order), unless the node crashes first.
  Status persist_async(const Ready& rd, bool* synced) override {
    if (sim_.faults_on_ && sim_.rng_.chance(sim_.persist_crash_rate_)) {
      p_.dies_in_persist = true;
      return Status::error("crashed before its disk write");
    }
    std::uint64_t write = p_.disk->save_async(rd);
    *synced = false;
    std::uint64_t at = std::max(p_.last_durable_at, sim_.now_ + sim_.rng_.below(4));
    p_.last_durable_at = at;
    sim_.durable_queue_.push_back({at, p_.id, p_.incarnation, rd.entries.back().index, rd.entries.back().term, write});
    return {};
  }
  Status install(const Snapshot& s) override {
    sim_.install_snapshot(p_, s);
    ++sim_.result_.stats.snapshots_installed;
    return {};
  }
  void send(const Message& m) override { sim_.send(m); }
  // An application may propose while it applies (fednode's round controller does): the entry
  // lands in the log between this Ready and its advance().
  Status apply(const Entry& e) override {
    sim_.apply(p_, e);
    if (sim_.faults_on_ && p_.node->role() == Role::kLeader && sim_.rng_.chance(0.05)) {
      std::string data = "a" + std::to_string(++sim_.proposals_);
      if (p_.node->propose(data) == RequestStatus::kOk) sim_.proposer_of_[data] = p_.id;
    }
    return {};
  }
  void read_ready(const ReadState& rs) override {
    auto req = sim_.read_required_.find(rs.request_id);
    if (req == sim_.read_required_.end()) return sim_.fail("read state for unknown request");
    p_.waiting_reads.push_back({rs, req->second});
    sim_.read_required_.erase(req);
  }
  void applied_batch() override { sim_.serve_reads(p_); }
  Status snapshot(const ConfState& conf) override {
    if (p_.applied > p_.disk->storage().snapshot().meta.index && p_.applied <= p_.disk->storage().last_index()) {
      p_.disk->create_snapshot(p_.applied, conf, snapshot_data(p_.applied, p_.hash, sim_.snapshot_pad_));
    }
    return {};
  }

 private:
  Simulation& sim_;
  Peer& p_;
};

void Simulation::serve_reads(Peer& p) {
  auto ready_reads = std::partition(p.waiting_reads.begin(), p.waiting_reads.end(),
                                    [&](const Peer::WaitingRead& w) { return w.state.index > p.applied; });
  for (auto it = ready_reads; it != p.waiting_reads.end(); ++it) {
    // Linearizability: the read reflects every write acknowledged before it started.
    if (it->state.index < it->required) {
      fail("stale read on node " + std::to_string(p.id) + ": read index " +
           std::to_string(it->state.index) + " but write " + std::to_string(it->required) +
           " was acknowledged before the read began");
    }
    ++result_.stats.reads_served;
  }
  p.waiting_reads.erase(ready_reads, p.waiting_reads.end());
}

void Simulation::handle_ready(Peer& p) {
  if (!p.alive) return;
  PeerHandler handler(*this, p);
  Status s = raft::handle_ready(*p.node, handler);
  if (p.dies_in_persist) {
    p.dies_in_persist = false;
    trace("mid-persist:");
    crash(p);
  } else if (!s.ok()) {
    fail("driver: " + s.message());
  }
}

void Simulation::complete_durable_due() {
  std::deque<Durable> later;
  for (const Durable& d : durable_queue_) {
    if (d.at > now_) {
      later.push_back(d);
      continue;
    }
    Peer& p = peers_[d.peer];
    if (!p.alive || p.incarnation != d.incarnation) continue;  // lost in a crash
    p.disk->complete_async(d.write);
    p.node->persisted(d.index, d.term);
  }
  durable_queue_ = std::move(later);
}

void Simulation::send(const Message& m) {
  check_vote(m);  // a vote is cast when it is sent, whether or not it arrives
  // Faults include reordering by random delays, even delays longer than the election timeout.
  auto max_delay = static_cast<std::uint64_t>(max_delay_);
  network_.send(m, now_, faults_on_, rng_, {drop_, dup_, 0, max_delay, 0, max_delay * 3});
  if (network_.in_flight() > 200000 && result_.ok) {
    std::map<std::string, int> histogram;
    network_.for_each([&](const Message& f) { histogram[message_type_name(f.type)]++; });
    std::string text;
    for (const auto& [name, n] : histogram) text += " " + name + "=" + std::to_string(n);
    fail("message storm: more than 200000 messages in flight:" + text);
    network_.clear();
  }
}

bool Simulation::connected(NodeId a, NodeId b) const {
  auto pa = peers_.find(a), pb = peers_.find(b);
  if (pa == peers_.end() || pb == peers_.end()) return false;
  return pa->second.side == pb->second.side;
}

void Simulation::deliver_due() {
  for (auto& m : network_.take_due(now_, faults_on_, rng_)) {
    auto it = peers_.find(m.to);
    if (it == peers_.end() || !it->second.alive || !connected(m.from, m.to)) continue;
    if (opt_.trace && std::getenv("SIM_TRACE_MESSAGES")) {
      trace(std::string("deliver ") + message_type_name(m.type) + " " + std::to_string(m.from) +
            "->" + std::to_string(m.to) + " term " + std::to_string(m.term) + " index " +
            std::to_string(m.index) + " commit " + std::to_string(m.commit) + " entries " +
            std::to_string(m.entries.size()) + (m.reject ? " reject" : "") + " snap " +
            std::to_string(m.snapshot.index) + " offset " + std::to_string(m.offset) +
            (m.done ? " done" : ""));
    }
    auto dropped = it->second.node->malformed_dropped();
    it->second.node->step(m);
    // Every message here comes from a correct core: none may look malformed (message_check.h).
    if (it->second.node->malformed_dropped() != dropped) {
      fail(std::string("node ") + std::to_string(m.to) + " dropped a correct " + message_type_name(m.type) +
           " from " + std::to_string(m.from) + " as malformed");
    }
    ++result_.stats.messages_delivered;
  }
}

Peer* Simulation::leader() {
  Peer* best = nullptr;
  for (auto& [id, p] : peers_) {
    if (p.alive && p.node->role() == Role::kLeader && (!best || p.node->term() > best->node->term())) best = &p;
  }
  return best;
}

void Simulation::faults() {
  for (auto& [id, p] : peers_) {
    if (!p.alive && !p.decommissioned && p.restart_at > 0 && static_cast<int>(now_) >= p.restart_at) {
      if (opt_.restore_in_place && rng_.chance(0.5) && p.disk->restore_backup()) {
        trace("restore " + std::to_string(id) + " from its copy");
        ++result_.stats.restores;
      }
      start(p);
    }
  }
  if (opt_.restore_in_place && rng_.chance(0.02)) {
    std::vector<Peer*> alive;
    for (auto& [id, p] : peers_) {
      if (p.alive) alive.push_back(&p);
    }
    if (!alive.empty() && alive[rng_.below(alive.size())]->disk->back_up()) trace("copy a data dir aside");
  }
  for (auto& [id, p] : peers_) {
    if (p.alive && p.crash_at != 0 && now_ >= p.crash_at) crash(p);
  }
  if (Peer* l = leader(); l && rng_.chance(leader_crash_rate_)) {
    crash(*l);  // leaders die at the worst moments: mid-replication, mid-transfer
  } else if (rng_.chance(crash_rate_)) {
    std::vector<Peer*> alive;
    for (auto& [id, p] : peers_) {
      if (p.alive) alive.push_back(&p);
    }
    if (!alive.empty()) crash(*alive[rng_.below(alive.size())]);
  }
  if (!partitioned_ && rng_.chance(partition_rate_)) {
    partitioned_ = true;
    ++result_.stats.partitions;
    std::string sides;
    Peer* l = leader();
    bool isolate_leader = l && rng_.chance(0.5);  // the leader ends up in a minority
    for (auto& [id, p] : peers_) {
      p.side = isolate_leader ? (&p == l || rng_.chance(0.2) ? 1 : 0) : static_cast<int>(rng_.below(2));
      sides += " " + std::to_string(id) + ":" + std::to_string(p.side);
    }
    trace("partition" + sides);
  } else if (partitioned_ && rng_.chance(heal_rate_)) {
    partitioned_ = false;
    for (auto& [id, p] : peers_) p.side = 0;
    trace("heal");
  }
}

void Simulation::client_requests() {
  // Clients talk to whichever node claims to lead, deposed leaders in a minority included:
  // their writes must never be acknowledged, and must not survive as committed.
  std::vector<Peer*> leaders;
  for (auto& [id, p] : peers_) {
    if (p.alive && p.node->role() == Role::kLeader) leaders.push_back(&p);
  }
  if (leaders.empty()) return;
  Peer* l = leaders[rng_.below(leaders.size())];
  // In the quiet phase only the liveness writes are proposed, so the bound measures recovery,
  // not a backlog that a deliberately tiny message budget cannot drain.
  if (faults_on_ && rng_.chance(propose_rate_)) {
    std::string data = "w" + std::to_string(++proposals_);
    if (l->node->propose(data) == RequestStatus::kOk) proposer_of_[data] = l->id;
  }
  if (rng_.chance(read_rate_)) {
    std::uint64_t id = ++reads_;
    read_required_[id] = acked_max_index_;
    if (l->node->read_index(id) != RequestStatus::kOk) read_required_.erase(id);
  }
}

void Simulation::membership_and_transfers() {
  Peer* l = leader();
  if (!l) return;
  const ConfState& conf = l->node->conf_state();
  if (rng_.chance(conf_rate_)) {
    std::vector<ConfChange> options;
    for (auto& [id, p] : peers_) {
      bool voter = contains(conf.voters, id), learner = contains(conf.learners, id);
      // A brand-new machine, or a removed member added back with the disk it had (in fednode,
      // config delete then config add of the same key).
      if (!voter && !learner && p.node == nullptr && (p.decommissioned || p.restart_at == 0)) {
        options.push_back({ConfChangeType::kAddLearner, id, "node" + std::to_string(id)});
      }
      if (learner) options.push_back({ConfChangeType::kAddVoter, id, ""});
      if (learner || (voter && conf.voters.size() > 3)) options.push_back({ConfChangeType::kRemove, id, ""});
    }
    if (static_cast<int>(peers_.size()) < 9 && rng_.chance(0.3)) {
      add_peer(next_id_++);  // a brand-new machine, offered as a learner next time
    }
    if (!options.empty()) {
      ConfChange change = options[rng_.below(options.size())];
      auto status = l->node->propose_conf_change(change);
      trace("conf change " + std::to_string(static_cast<int>(change.type)) + " node " +
            std::to_string(change.node) + ": " + request_status_name(status));
      Peer& target = peers_[change.node];
      if (status == RequestStatus::kOk && change.type == ConfChangeType::kAddLearner && !target.node) {
        if (target.decommissioned) {
          added_at_[target.id] = l->node->last_index();  // the removal applied before it is history
          ++target.incarnation;  // its last background writes are lost, as at a crash
          target.disk->reopen();
          target.decommissioned = false;
          to_decommission_.erase(target.id);
          ++result_.stats.readds;
        }
        start(target);  // it learns what it lacks from the leader
      }
    }
  }
  if (rng_.chance(transfer_rate_) && conf.voters.size() > 1) {
    NodeId to = conf.voters[rng_.below(conf.voters.size())];
    if (l->node->transfer_leadership(to) == RequestStatus::kOk) {
      ++result_.stats.transfers;
      trace("transfer " + std::to_string(l->id) + " -> " + std::to_string(to));
    }
  }
}

void Simulation::check_leaders() {
  for (auto& [id, p] : peers_) {
    if (!p.alive) continue;
    Role role = p.node->role();
    Term term = p.node->term();
    result_.stats.max_term = std::max<std::uint64_t>(result_.stats.max_term, term);
    if (role == Role::kLeader && p.last_role != Role::kLeader) {
      ++result_.stats.leaders_elected;
      trace("leader " + std::to_string(id) + " term " + std::to_string(term));
      // Nemesis: some new leaders die a few ticks into their term, having replicated part of
      // their log (the situation of the paper's Figure 8).
      if (faults_on_ && rng_.chance(new_leader_crash_rate_)) p.crash_at = now_ + 1 + rng_.below(6);
      // Election safety (§5.2): at most one leader per term.
      auto [it, fresh] = leader_of_term_.emplace(term, id);
      if (!fresh && it->second != id) {
        fail("election safety: nodes " + std::to_string(it->second) + " and " +
             std::to_string(id) + " both led term " + std::to_string(term));
      }
      // Leader completeness (§5.4): the leader of term T holds every entry committed in an
      // earlier term. (A leader of an older term noticed late may lack newer commits.)
      for (auto c = committed_.lower_bound(p.node->first_index()); c != committed_.end(); ++c) {
        if (c->second.seen_in_term >= term) continue;
        auto t = p.node->log_term(c->first);
        if (t != c->second.term) {
          fail("leader completeness: leader " + std::to_string(id) + " of term " +
               std::to_string(term) + " has " + (t ? "term " + std::to_string(*t) : "nothing") +
               " at index " + std::to_string(c->first) + ", committed with term " +
               std::to_string(c->second.term));
          break;
        }
      }
    }
    p.last_role = role;
  }
}

// Election safety at its root (§5.2): a node grants at most one candidate its vote in a term.
void Simulation::check_vote(const Message& m) {
  if (m.type != MessageType::kVoteResponse || m.reject) return;
  auto [it, fresh] = vote_of_.emplace(std::make_pair(m.from, m.term), m.to);
  if (!fresh && it->second != m.to) {
    fail("election safety: node " + std::to_string(m.from) + " voted for " + std::to_string(it->second) +
         " and for " + std::to_string(m.to) + " in term " + std::to_string(m.term));
  }
}

void Simulation::check_log_matching() {
  std::vector<Peer*> alive;
  for (auto& [id, p] : peers_) {
    if (p.alive) alive.push_back(&p);
  }
  for (std::size_t a = 0; a < alive.size(); ++a) {
    for (std::size_t b = a + 1; b < alive.size(); ++b) {
      const Node& x = *alive[a]->node;
      const Node& y = *alive[b]->node;
      Index lo = std::max(x.first_index(), y.first_index());
      Index hi = std::min(x.last_index(), y.last_index());
      // Log matching (§5.3): if two logs hold an entry with the same index and term, they are
      // identical up to it.
      Index top = 0;
      for (Index i = hi; i >= lo && i > 0; --i) {
        if (x.log_term(i) == y.log_term(i)) {
          top = i;
          break;
        }
      }
      if (top == 0) continue;
      if (x.log_entries(top, top + 1) != y.log_entries(top, top + 1)) {
        fail("log matching: nodes " + std::to_string(x.id()) + " and " + std::to_string(y.id()) +
             " hold different entries with the same index and term at " + std::to_string(top));
        return;
      }
      for (Index i = lo; i < top; ++i) {
        if (x.log_term(i) != y.log_term(i)) {
          fail("log matching: nodes " + std::to_string(x.id()) + " and " +
               std::to_string(y.id()) + " agree at " + std::to_string(top) + " but differ at " +
               std::to_string(i));
          return;
        }
      }
    }
  }
}

// The leader committed one of the liveness writes and a majority of its voters applied it.
bool Simulation::liveness_reached() {
  Peer* l = leader();
  if (!l) return false;
  Index marker_index = 0;
  for (Index i = l->node->commit_index(); i >= l->node->first_index() && i > 0; --i) {
    auto e = l->node->log_entries(i, i + 1);
    if (!e.empty() && std::find(markers_.begin(), markers_.end(), e[0].data) != markers_.end()) {
      marker_index = i;
      break;
    }
  }
  if (marker_index == 0) return false;
  std::size_t applied = 0;
  const auto& voters = l->node->conf_state().voters;
  for (NodeId v : voters) {
    auto it = peers_.find(v);
    if (it != peers_.end() && it->second.alive && it->second.applied >= marker_index) ++applied;
  }
  return applied >= majority(voters.size());
}

SimResult Simulation::run() {
  const int total = opt_.steps + opt_.quiet_steps;
  for (int step = 0; step < total && result_.ok; ++step) {
    ++now_;
    if (step == opt_.steps) {
      // Quiet phase: heal, restart everyone, stop dropping. Liveness must follow.
      faults_on_ = false;
      partitioned_ = false;
      for (auto& [id, p] : peers_) {
        p.side = 0;
        if (!p.alive && !p.decommissioned && p.restart_at > 0) start(p);
      }
      trace("quiet phase");
    }
    if (faults_on_) {
      faults();
      membership_and_transfers();
    }
    client_requests();
    if (!faults_on_ && result_.stats.liveness_ticks < 0 && leader() && now_ >= marker_at_) {
      // A write to prove progress; proposed again if a leader change swallowed it.
      std::string marker = "liveness" + std::to_string(markers_.size());
      if (leader()->node->propose(marker) == RequestStatus::kOk) markers_.push_back(marker);
      marker_at_ = now_ + 60;
    }
    for (auto& [id, p] : peers_) {
      if (p.alive) p.node->tick();
    }
    deliver_due();
    complete_durable_due();
    for (auto& [id, p] : peers_) {
      // A node with work left over at a crash loses it: the driver may lag behind the core.
      if (p.alive && (!faults_on_ || rng_.chance(0.8))) handle_ready(p);
    }
    check_leaders();
    if (step % 10 == 0 || step + 1 == total) check_log_matching();
    for (NodeId id : to_decommission_) {
      Peer& p = peers_[id];
      if (p.decommissioned || removed_at_[id] <= added_at_[id]) continue;
      trace("decommission " + std::to_string(id));
      p.decommissioned = true;
      p.alive = false;
      p.node.reset();
    }
    if (!markers_.empty() && result_.stats.liveness_ticks < 0 && liveness_reached()) {
      result_.stats.liveness_ticks = step - opt_.steps;
    }
  }
  if (result_.ok && opt_.quiet_steps > 0 && result_.stats.liveness_ticks < 0) {
    fail("liveness: no leader committed a write to a majority within " +
         std::to_string(opt_.quiet_steps) + " fault-free ticks");
  }
  return std::move(result_);
}

}  // namespace

std::unique_ptr<SimDisk> make_memory_disk(NodeId) { return std::make_unique<MemoryDisk>(); }

SimResult run_simulation(const SimOptions& options) { return Simulation(options).run(); }

SimResult run_seeds(std::uint64_t first, std::uint64_t count, SimOptions base,
                    std::uint64_t* failing_seed, SimStats* totals) {
  return sim_support::run_seeds(first, count, std::move(base), failing_seed, totals, &run_simulation,
                                [](SimStats& t, const SimStats& r) {
                                  t.leaders_elected += r.leaders_elected;
                                  t.entries_committed += r.entries_committed;
                                  t.writes_acked += r.writes_acked;
                                  t.reads_served += r.reads_served;
                                  t.crashes += r.crashes;
                                  t.readds += r.readds;
                                  t.restores += r.restores;
                                  t.partitions += r.partitions;
                                  t.conf_changes += r.conf_changes;
                                  t.transfers += r.transfers;
                                  t.snapshots_installed += r.snapshots_installed;
                                  t.messages_delivered += r.messages_delivered;
                                  t.max_term = std::max(t.max_term, r.max_term);
                                  t.liveness_ticks = std::max(t.liveness_ticks, r.liveness_ticks);
                                });
}

}  // namespace fednode::raft::sim
