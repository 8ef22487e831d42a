#include "fl_simulation.h"
#include "seed_runner.h"
#include "sim_network.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "fednode/app/state_machine.h"
#include "fednode/fl/raft_view.h"
#include "fednode/fl/round_driver.h"
#include "fednode/raft/ready_driver.h"
#include "fednode/raft/storage.h"
#include "fednode/util/msgpack_limits.h"
#include "fednode/util/seeded_rng.h"

namespace fednode::fl::sim {
namespace {

constexpr Millis kTickMs = 10;

// Blobs are named as the model store names them (64 hex digits), from a readable description.
std::string blob_id(const std::string& what) {
  std::string out;
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (int part = 0; part < 4; ++part) {
    for (unsigned char c : what) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ static_cast<unsigned>(part)) * 0x100000001b3ull;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    out += buf;
  }
  return out;
}

// What evaluating a model gives: a function of the model alone, so metrics proposed for a round
// can be checked against its committed model.
double accuracy_of(const std::string& model_id) {
  return static_cast<double>(std::stoull(model_id.substr(0, 8), nullptr, 16) % 1000) / 1000.0;
}

// A server optimiser's next state, named by the state it continued: a chain of commits whose
// states do not follow each other shows as a name that does not match.
std::string next_state(const std::string& from, std::uint64_t round, std::uint64_t term, std::uint64_t attempt) {
  return blob_id("state-" + std::to_string(round) + "/" + std::to_string(term) + "/" + std::to_string(attempt) +
                 "-after-" + from);
}

class SimShell;

struct RunningJob {
  Job job;
  std::uint64_t finish_at = 0;
  bool fails = false;
  bool stopped = false;  // the machine stopped it (a superseded training, its upload)
};

struct Peer {
  raft::NodeId id = 0;
  // The disk: survives crashes.
  raft::MemoryStorage storage;
  std::set<std::string> store;
  // Lost at a crash.
  std::unique_ptr<raft::Node> node;
  std::unique_ptr<SimShell> shell;  // the production round driver, with this peer's shell and executor
  StateMachine sm;                  // the production state machine: key-value and rounds
  const RoundState& rounds() const { return sm.rounds(); }
  RoundDriver& driver();
  raft::Index applied = 0;
  std::vector<RunningJob> running;
  std::map<std::string, std::uint64_t> start_applied_at;  // attempt key -> tick
  // The attempt current in the last snapshot installed or restored, until a start is applied from
  // the log: one this peer may train without having applied its start.
  std::string snapshot_current;
  bool crash_pending = false;          // went down at a crash point: crashes when the driver returns
  bool draining = false;               // inside its Raft Ready loop (a flush then waits for it)
  bool alive = false;
  std::uint64_t restart_at = 0;
  int side = 0;
  // Clocks: this peer's monotonic and wall clocks run at the true rate from their own origins.
  Millis mono_origin = 0;
  std::int64_t wall_offset = 0;
  bool was_leader = false;
};

struct UpdateOrigin {
  std::uint64_t round, term, attempt;
  NodeId node;
};

class FlSimulation;

// The round driver's shell and executor on a simulated peer: its view and clocks, the simulated
// Raft for proposals, the seeded executor for jobs, crash points that take the peer down.
class SimShell : public RoundShell, public JobExecutor {
 public:
  SimShell(FlSimulation& sim, Peer& peer, RoundSettings settings) : sim_(sim), p_(peer), driver_(settings, *this, *this) {}
  RoundDriver& driver() { return driver_; }

  View view() override;
  void log(const LogLine& line) override;
  void note(const RoundNote& note) override;
  bool checkpoint(const Checkpoint& point) override;
  bool propose(const Proposal& proposal) override;
  void flush() override;
  void transfer_leadership(NodeId to) override {
    if (!p_.crash_pending) p_.node->transfer_leadership(to);
  }
  void run(const Job& job) override;
  void stop_training() override;
  // Outputs carried out since the simulation last called in: a machine that never stops asking
  // would otherwise hang the driver's loop (the old simulation capped it at 8 batches).
  void new_call() { outputs_ = 0; }

 private:
  void count_output();
  FlSimulation& sim_;
  Peer& p_;
  RoundDriver driver_;
  std::uint64_t outputs_ = 0;
};

RoundDriver& Peer::driver() { return shell->driver(); }

// What the driver does with a peer's Ready: MemoryStorage as the disk, the simulated network,
// the round state as the state machine, checks at every apply.
class SimHandler : public raft::ReadyHandler {
 public:
  SimHandler(FlSimulation& sim, Peer& peer) : sim_(sim), p_(peer) {}
  Status persist(const raft::Ready& rd) override;
  Status install(const raft::Snapshot& s) override;
  void send(const raft::Message& m) override;
  Status apply(const raft::Entry& e) override;
  void read_ready(const raft::ReadState&) override {}
  Status snapshot(const raft::ConfState& conf) override;

 private:
  FlSimulation& sim_;
  Peer& p_;
};

class FlSimulation {
 public:
  explicit FlSimulation(const FlSimOptions& o) : opt_(o), rng_(o.seed ^ 0x5851f42d4c957f2dull) { configure(); }
  FlSimResult run();

  // For the handler and the shell.
  void send(const raft::Message& m);
  void applied_command(Peer& p, const raft::Entry& e);
  View view(Peer& p);
  void submit(Peer& p, Job job);
  bool crash_at_checkpoint(Peer& p, const Checkpoint& c);
  void proposing(Peer& p, const Proposal& prop);
  void count_rerun() { ++result_.stats.reruns; }
  // Raft refuses a proposal now and then (overloaded, a transfer under way), as the node's may.
  bool refuse_proposal() {
    if (!faults_on_ || !rng_.chance(refuse_rate_)) return false;
    ++result_.stats.proposals_refused;
    return true;
  }
  void drain(Peer& p);
  void check_applied(Peer& p, RoundEvent event, const std::optional<RoundStart>& before, std::size_t committed_before);
  void trace(const std::string& line) {
    if (opt_.trace) result_.trace.push_back("t=" + std::to_string(now_) + " " + line);
  }
  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = "seed " + std::to_string(opt_.seed) + " step " + std::to_string(now_) + ": " + why;
    trace("FAIL " + why);
  }
  std::uint64_t snapshot_every() const { return snapshot_every_; }
  FlSimResult& result() { return result_; }

 private:
  void configure();
  void start(Peer& p);
  void crash(Peer& p);
  void crash_if_pending(Peer& p);
  void drive(Peer& p);
  void finish_jobs(Peer& p);
  JobResult execute(Peer& p, const Job& job);
  void deliver_due();
  void faults();
  void check_training();
  bool connected(const Peer& a, const Peer& b) const { return a.alive && b.alive && a.side == b.side; }
  Peer* peer(NodeId id) {
    auto it = peers_.find(id);
    return it == peers_.end() ? nullptr : &it->second;
  }
  std::size_t voters_holding(const Peer& p, const std::string& model) const;

  FlSimOptions opt_;
  SeededRng rng_;
  FlSimResult result_;
  std::map<NodeId, Peer> peers_;
  sim_support::SimNetwork network_;
  sim_support::NetworkFaults network_faults_;
  std::uint64_t now_ = 0;
  bool faults_on_ = true;
  bool partitioned_ = false;
  raft::Config raft_config_;
  RoundConfig run_;
  std::uint64_t rotate_every_ = 0;
  std::uint64_t snapshot_every_ = 0;
  double drop_ = 0, dup_ = 0, crash_rate_ = 0, leader_crash_rate_ = 0, checkpoint_crash_ = 0, partition_rate_ = 0,
         heal_rate_ = 0, job_fail_ = 0, queue_full_ = 0, refuse_rate_ = 0;
  int max_delay_ = 1;
  std::uint64_t train_min_ = 5, train_max_ = 50;
  // Global knowledge for the checks.
  std::map<std::uint64_t, RoundRecord> history_;       // round -> what committed
  std::set<std::uint64_t> evaluated_rounds_;           // rounds whose metrics some peer applied
  std::map<std::string, std::string> commit_proposed_;  // round/term/attempt -> "" or why it lacked a majority
  std::map<std::string, UpdateOrigin> updates_;         // update id -> who trained it for which attempt
  std::set<std::pair<NodeId, std::string>> evaluated_by_;  // (node, model) evaluations that ran
  std::set<NodeId> aggregators_;
};

// ---- the driver's handler -----------------------------------------------------------------------

// A peer that went down at a crash point (crash_pending) writes, sends and applies nothing more,
// as the node after its _exit; the crash itself happens when the driver has returned.
Status SimHandler::persist(const raft::Ready& rd) {
  if (p_.crash_pending) return {};
  if (rd.snapshot) p_.storage.apply_snapshot(*rd.snapshot);
  p_.storage.append(rd.entries);
  if (rd.hard_state) p_.storage.set_hard_state(*rd.hard_state);
  return {};
}

Status SimHandler::install(const raft::Snapshot& s) {
  if (p_.crash_pending) return {};
  if (Status st = p_.sm.restore(s.data); !st.ok()) {
    sim_.fail("node " + std::to_string(p_.id) + " got a snapshot it cannot restore: " + st.message());
    return st;
  }
  p_.snapshot_current = p_.rounds().current() ? attempt_key(*p_.rounds().current()) : "";
  p_.applied = s.meta.index;
  ++sim_.result().stats.snapshots_installed;
  return {};
}

void SimHandler::send(const raft::Message& m) {
  if (!p_.crash_pending) sim_.send(m);
}

Status SimHandler::apply(const raft::Entry& e) {
  if (p_.crash_pending) return {};
  if (e.index != p_.applied + 1) sim_.fail("node " + std::to_string(p_.id) + " applied " + std::to_string(e.index) + " after " + std::to_string(p_.applied));
  p_.applied = e.index;
  if (e.type == raft::EntryType::kNormal && !e.data.empty()) sim_.applied_command(p_, e);
  return {};
}

Status SimHandler::snapshot(const raft::ConfState& conf) {
  if (p_.crash_pending) return {};
  if (p_.applied <= p_.storage.snapshot().meta.index || p_.applied > p_.storage.last_index()) return {};
  p_.storage.create_snapshot(p_.applied, conf, p_.sm.snapshot());
  return {};
}

// ---- set-up -------------------------------------------------------------------------------------

void FlSimulation::configure() {
  int voters = rng_.chance(0.6) ? 3 : 5;
  raft_config_.election_ticks_min = 10;
  raft_config_.election_ticks_max = 20;
  raft_config_.heartbeat_ticks = 2;
  raft_config_.max_message_bytes = rng_.chance(0.5) ? 600 : 4096;
  static constexpr std::uint64_t kSnap[] = {10, 30, 100000};
  snapshot_every_ = kSnap[rng_.below(3)];
  raft_config_.snapshot_entries = snapshot_every_;
  drop_ = 0.1 * rng_.uniform();
  dup_ = 0.03 * rng_.uniform();
  max_delay_ = static_cast<int>(rng_.between(1, 4));
  network_faults_ = {drop_, dup_, 1, static_cast<std::uint64_t>(max_delay_), 1, 6};
  crash_rate_ = 0.002 * rng_.uniform();
  leader_crash_rate_ = 0.002 * rng_.uniform();
  checkpoint_crash_ = 0.2 * rng_.uniform();
  partition_rate_ = 0.002 * rng_.uniform();
  heal_rate_ = 0.01;
  job_fail_ = 0.1 * rng_.uniform();
  queue_full_ = 0.03 * rng_.uniform();
  run_.rounds = rng_.between(2, 5);
  run_.fraction = rng_.chance(0.7) ? 1.0 : 0.6;
  // A run that can make progress: min_clients no more than the share of trainers invited.
  auto invited = static_cast<std::uint64_t>(std::ceil(run_.fraction * (voters - 1)));
  run_.min_clients = rng_.between(1, invited);
  run_.seed = opt_.seed;
  // Odd seeds run a server optimiser, whose state must pass from aggregator to aggregator (a
  // parity, not a draw, so the other parameters of a seed stay what they were).
  run_.aggregator = opt_.seed % 2 ? "fedadam" : "fedavg";
  // Every third seed trains on each party's own data: an aggregator that holds data (all peers
  // but every fourth id) invites itself too.
  if (opt_.seed % 3 == 0) run_.dataset = "own";
  // Every fifth seed evaluates every second committed model (and the last) only.
  if (opt_.seed % 5 == 0) run_.evaluate_every = 2;
  train_max_ = rng_.between(10, 120);
  train_min_ = train_max_ / 4 + 1;
  // A deadline the slowest training meets once the faults stop (a shorter one is a run that
  // cannot finish, whatever the code does).
  run_.deadline_ms = rng_.between(train_max_ * 3 / 2 + 30, train_max_ * 3 + 60) * kTickMs;
  rotate_every_ = rng_.chance(0.3) ? rng_.between(1, 2) : 0;
  bool skewed = rng_.chance(0.5);
  refuse_rate_ = 0.05 * rng_.uniform();
  char text[480];
  std::snprintf(text, sizeof text,
                "voters=%d rounds=%llu deadline=%llums min_clients=%llu fraction=%.1f train=%llu-%llu ticks "
                "rotate=%llu snapshot_every=%llu drop=%.3f crash=%.4f leader_crash=%.4f checkpoint_crash=%.2f "
                "partition=%.4f job_fail=%.3f queue_full=%.3f refuse=%.3f clocks=%s aggregator=%s data=%s evaluate_every=%llu",
                voters, static_cast<unsigned long long>(run_.rounds), static_cast<unsigned long long>(run_.deadline_ms),
                static_cast<unsigned long long>(run_.min_clients), run_.fraction,
                static_cast<unsigned long long>(train_min_), static_cast<unsigned long long>(train_max_),
                static_cast<unsigned long long>(rotate_every_), static_cast<unsigned long long>(snapshot_every_), drop_,
                crash_rate_, leader_crash_rate_, checkpoint_crash_, partition_rate_, job_fail_, queue_full_, refuse_rate_,
                skewed ? "skewed" : "close", run_.aggregator.c_str(), run_.dataset.c_str(),
                static_cast<unsigned long long>(run_.evaluate_every));
  result_.stats.parameters = text;
  result_.stats.rounds = run_.rounds;
  trace(std::string("parameters ") + text);

  std::vector<raft::ConfChange> founders;
  for (int i = 1; i <= voters; ++i) founders.push_back({raft::ConfChangeType::kAddVoter, static_cast<NodeId>(i), ""});
  auto entries = raft::Node::bootstrap_entries(founders);
  for (const auto& f : founders) {
    Peer& p = peers_[f.node];
    p.id = f.node;
    p.storage.append(entries);
    p.storage.set_hard_state({1, raft::kNoNode, entries.back().index});
    // Monotonic clocks start anywhere; wall clocks disagree by up to 30 s where skewed.
    p.mono_origin = rng_.below(1u << 30);
    p.wall_offset = skewed ? static_cast<std::int64_t>(rng_.below(60001)) - 30000 : static_cast<std::int64_t>(rng_.below(21)) - 10;
    start(p);
  }
}

void FlSimulation::start(Peer& p) {
  raft::Config c = raft_config_;
  c.id = p.id;
  c.random_seed = opt_.seed * 1000003 + now_;
  p.node = std::make_unique<raft::Node>(c, p.storage);
  RoundSettings settings;
  settings.proposed = run_;  // every peer would propose the same run; the first committed wins
  settings.rotate_every = rotate_every_;
  settings.bugs = opt_.bugs;
  p.sm = StateMachine{};
  p.shell = std::make_unique<SimShell>(*this, p, settings);
  p.applied = 0;
  p.running.clear();
  p.start_applied_at.clear();
  p.snapshot_current.clear();
  p.crash_pending = false;
  p.was_leader = false;
  p.alive = true;
  if (!p.storage.snapshot().empty()) {
    if (!p.sm.restore(p.storage.snapshot().data).ok()) fail("node cannot restore its own snapshot");
    p.snapshot_current = p.rounds().current() ? attempt_key(*p.rounds().current()) : "";
    p.applied = p.storage.snapshot().meta.index;
  }
  trace("start " + std::to_string(p.id));
}

void FlSimulation::crash(Peer& p) {
  trace("crash " + std::to_string(p.id));
  p.node.reset();
  p.shell.reset();
  p.running.clear();
  p.alive = false;
  p.restart_at = now_ + rng_.between(20, 200);
  ++result_.stats.crashes;
}

View FlSimulation::view(Peer& p) {
  View v;
  std::vector<NodeId> members;
  for (auto id : p.node->conf_state().voters) members.push_back(id);
  for (auto id : p.node->conf_state().learners) members.push_back(id);
  v.raft = raft_view_of(*p.node, p.applied, std::move(members));
  // Seeds 4k..4k+1 run with plain commands, the others deflated (a parity, not a draw).
  v.raft.members_read_deflated_commands = opt_.seed % 4 >= 2;
  v.rounds = &p.rounds();
  v.holds = [&p](const std::string& id) { return p.store.count(id) > 0; };
  v.can_train = p.id % 4 != 0;
  v.can_evaluate = p.id % 4 != 1;
  v.now = p.mono_origin + now_ * kTickMs;
  std::int64_t wall = 1'700'000'000'000 + static_cast<std::int64_t>(now_ * kTickMs) + p.wall_offset;
  v.wall_ms = static_cast<std::uint64_t>(wall);
  return v;
}

// ---- the network --------------------------------------------------------------------------------

void FlSimulation::send(const raft::Message& m) { network_.send(m, now_, faults_on_, rng_, network_faults_); }

void FlSimulation::deliver_due() {
  for (auto& m : network_.take_due(now_, faults_on_, rng_)) {
    Peer* to = peer(m.to);
    Peer* from = peer(m.from);
    if (!to || !from || !connected(*to, *from)) continue;
    to->node->step(m);
  }
}

// ---- applying and checking ----------------------------------------------------------------------

// As the daemon applies an entry: the production state machine, then the round driver.
void FlSimulation::applied_command(Peer& p, const raft::Entry& e) {
  std::optional<RoundStart> before = p.rounds().current();
  std::size_t committed_before = p.rounds().committed().size();
  RoundEvent event;
  std::string why;
  if (Status s = p.sm.apply(e.data, &event, &why); !s.ok()) return fail("malformed command in the log: " + s.message());
  if (event == RoundEvent::kStart) {
    p.start_applied_at.emplace(attempt_key(*p.rounds().current()), now_);
    p.snapshot_current.clear();
  }
  check_applied(p, event, before, committed_before);
  if (event != RoundEvent::kIgnored || !why.empty()) p.driver().applied(event, why);
}

void FlSimulation::check_applied(Peer& p, RoundEvent event, const std::optional<RoundStart>& before,
                                 std::size_t committed_before) {
  if (event == RoundEvent::kCommit) {
    const RoundRecord& r = p.rounds().committed().back();
    std::string at = "node " + std::to_string(p.id) + " applied the commit of round " + std::to_string(r.round);
    if (r.round != committed_before + 1 || p.rounds().committed().size() != committed_before + 1) {
      return fail(at + " after " + std::to_string(committed_before) + " committed rounds");
    }
    if (r.round > run_.rounds) return fail(at + " beyond the run's " + std::to_string(run_.rounds) + " rounds");
    if (!before || before->round != r.round || before->term != r.term || before->attempt != r.attempt) {
      return fail(at + ", attempt " + std::to_string(r.term) + "/" + std::to_string(r.attempt) +
                  ", which is not the current start");
    }
    std::string key = std::to_string(r.round) + "/" + std::to_string(r.term) + "/" + std::to_string(r.attempt);
    auto proposed = commit_proposed_.find(key);
    if (proposed == commit_proposed_.end()) return fail(at + " that nobody proposed");
    if (!proposed->second.empty()) return fail(at + ": " + proposed->second);
    // The aggregator trains only on a run of each party's own data, and only when it holds data.
    bool self_invited = std::binary_search(r.participants.begin(), r.participants.end(), r.aggregator);
    if (self_invited && (run_.dataset != "own" || r.aggregator % 4 == 0)) {
      return fail(at + ": its aggregator invited itself, " +
                  (run_.dataset != "own" ? std::string("in a run on shared data") : "without data of its own"));
    }
    if (p.id == r.aggregator && std::any_of(r.results.begin(), r.results.end(), [&](const TrainerResult& t) { return t.node == r.aggregator; })) {
      ++result_.stats.aggregator_trained;
    }
    if (run_.aggregator != "fedavg") {
      auto prev = history_.find(r.round - 1);
      std::string from = r.round == 1 || prev == history_.end() ? "" : prev->second.server_state_id;
      if (r.server_state_id != next_state(from, r.round, r.term, r.attempt)) {
        return fail(at + " whose server state does not continue the state committed with round " +
                    std::to_string(r.round - 1));
      }
    }
    auto [it, fresh] = history_.emplace(r.round, r);
    if (fresh) {
      ++result_.stats.commits;
      aggregators_.insert(r.aggregator);
      trace("committed round " + std::to_string(r.round) + " model " + r.model_id);
    } else if (it->second.model_id != r.model_id || it->second.term != r.term || it->second.attempt != r.attempt) {
      return fail(at + " with model " + r.model_id + " but another peer applied " + it->second.model_id);
    }
    if (r.evaluated) return fail(at + ", which arrived with its metrics: evaluation is not off the critical path");
  } else if (event == RoundEvent::kMetrics) {
    const RoundRecord& r = *p.rounds().last_metrics();
    std::string at = "node " + std::to_string(p.id) + " applied metrics for round " + std::to_string(r.round);
    bool skipped = run_.evaluate_every > 1 && r.round % run_.evaluate_every != 0 && r.round != run_.rounds;
    if (skipped && !(r.untested && r.test_accuracy == 0)) return fail(at + " with figures, though --evaluate-every skips it");
    // Untested: only where the leader holds no test split (a node without data in a run on own data).
    if (!skipped && r.untested && run_.dataset != "own") return fail(at + " without figures");
    if (!r.untested && r.test_accuracy != accuracy_of(r.model_id)) return fail(at + " that are not its model's evaluation");
    if (!r.parties.empty() && (run_.dataset != "own" || skipped)) return fail(at + " with parties' evaluations it should not have");
    for (const auto& party : r.parties) {
      if (!evaluated_by_.count({party.node, r.model_id})) {
        return fail(at + " naming node " + std::to_string(party.node) + "'s evaluation of a model it never evaluated");
      }
    }
    if (!r.parties.empty() && p.id == r.aggregator) ++result_.stats.federated_evaluations;
    if (evaluated_rounds_.insert(r.round).second) ++result_.stats.evaluations;
  }
}

std::size_t FlSimulation::voters_holding(const Peer& p, const std::string& model) const {
  std::size_t n = 0;
  for (auto id : p.node->conf_state().voters) {
    auto it = peers_.find(id);
    if (it != peers_.end() && it->second.store.count(model)) ++n;
  }
  return n;
}

// An invited trainer that applied a fresh start (by the simulation's true clock) trains it.
void FlSimulation::check_training() {
  for (auto& [id, p] : peers_) {
    if (!p.alive || p.node->role() == raft::Role::kLeader || !p.rounds().current() || !p.rounds().config()) continue;
    const RoundStart& s = *p.rounds().current();
    if (!std::binary_search(s.participants.begin(), s.participants.end(), p.id)) continue;
    auto at = p.start_applied_at.find(attempt_key(s));
    if (at == p.start_applied_at.end()) continue;
    std::uint64_t age = now_ - at->second;
    if (age >= 2 && age * kTickMs < s.deadline_ms / 2 && p.driver().machine().training_key() != attempt_key(s)) {
      fail("node " + std::to_string(p.id) + " was invited to round " + attempt_key(s) + " and applied it " +
           std::to_string(age) + " ticks ago, but does not train it");
    }
  }
}

// ---- the executor -------------------------------------------------------------------------------

void FlSimulation::submit(Peer& p, Job job) {
  ++result_.stats.jobs;
  std::string what = std::string(job_kind_name(job.kind)) + " job of node " + std::to_string(p.id);
  if (job.kind == JobKind::kTrain) {
    const RoundStart& s = job.start;
    auto applied = p.start_applied_at.find(attempt_key(s));
    bool invited = std::binary_search(s.participants.begin(), s.participants.end(), p.id);
    if (!invited || (applied == p.start_applied_at.end() && p.snapshot_current != attempt_key(s))) {
      return fail(what + " for round " + attempt_key(s) + ", to which it is not invited");
    }
    if (!p.store.count(s.base_model_id)) return fail(what + " without its base model");
  }
  if (job.kind == JobKind::kAggregate) {
    for (const auto& [update, result] : job.updates) {
      auto origin = updates_.find(update);
      if (origin == updates_.end()) return fail(what + " aggregates an update nobody trained");
      const UpdateOrigin& o = origin->second;
      if (o.round != job.round || o.term != job.term || o.attempt != job.attempt || o.node != result.node) {
        return fail(what + " for round " + std::to_string(job.round) + "/" + std::to_string(job.term) + "/" +
                    std::to_string(job.attempt) + " aggregates an update trained for " + std::to_string(o.round) + "/" +
                    std::to_string(o.term) + "/" + std::to_string(o.attempt));
      }
    }
  }
  RunningJob r;
  r.job = std::move(job);
  bool full = faults_on_ && rng_.chance(queue_full_);
  std::uint64_t lo = 1, hi = 5;
  if (r.job.kind == JobKind::kTrain) lo = train_min_, hi = train_max_;
  if (r.job.kind == JobKind::kAggregate) lo = 2, hi = 20;
  if (r.job.kind == JobKind::kPush || r.job.kind == JobKind::kFetch) lo = 1, hi = 15;
  r.finish_at = full ? now_ : now_ + rng_.between(lo, hi);
  r.fails = full || (faults_on_ && rng_.chance(job_fail_));
  p.running.push_back(std::move(r));
}

JobResult FlSimulation::execute(Peer& p, const Job& job) {
  JobResult r;
  r.id = job.id;
  switch (job.kind) {
    case JobKind::kInitialModel:
      r.model_id = blob_id("init-" + std::to_string(opt_.seed));
      p.store.insert(r.model_id);
      return r;
    case JobKind::kFetch:
      for (NodeId from : job.peers) {
        Peer* src = peer(from);
        if (src && connected(p, *src) && src->store.count(job.model_id)) {
          p.store.insert(job.model_id);
          r.from = from;
          return r;
        }
      }
      return JobResult::failed(job.id, "found on no reachable peer");
    case JobKind::kTrain:
      r.model_id = blob_id("update-" + attempt_key(job.start) + "-" + std::to_string(p.id));
      r.trained = TrainerResult{p.id, rng_.between(1, 100), 1.0, 0.5};
      updates_[r.model_id] = UpdateOrigin{job.round, job.term, job.attempt, p.id};
      return r;
    case JobKind::kUpload: {
      Peer* agg = job.peers.empty() ? nullptr : peer(job.peers[0]);
      if (!agg || !connected(p, *agg)) return JobResult::failed(job.id, "aggregator unreachable");
      agg->store.insert(job.upload.id);
      std::string refused = agg->driver().offer_update(job.upload);
      if (!refused.empty()) return JobResult::failed(job.id, refused);
      return r;
    }
    case JobKind::kAggregate:
      if (!job.state_id.empty() && !p.store.count(job.state_id)) return JobResult::failed(job.id, "server state not held");
      // Now and then an update fails the aggregator's checks (NaN, wrong shape): left out.
      for (const auto& [update, result] : job.updates) {
        if (faults_on_ && rng_.chance(0.05)) r.refused.emplace_back(result.node, "injected: non-finite value");
      }
      if (r.refused.size() == job.updates.size()) return JobResult::failed(job.id, "no valid update to aggregate");
      r.model_id = blob_id("model-" + std::to_string(job.round) + "/" + std::to_string(job.term) + "/" + std::to_string(job.attempt));
      p.store.insert(r.model_id);
      if (run_.aggregator != "fedavg") {
        r.state_id = next_state(job.state_id, job.round, job.term, job.attempt);
        p.store.insert(r.state_id);
      }
      return r;
    case JobKind::kEvaluate:
      if (!p.store.count(job.model_id)) return JobResult::failed(job.id, "model not held");
      r.model_id = job.model_id;
      r.test_accuracy = accuracy_of(job.model_id);
      r.test_loss = 1 - r.test_accuracy;
      r.test_samples = 100 + p.id % 7;
      evaluated_by_.insert({p.id, job.model_id});
      return r;
    case JobKind::kReportEvaluation: {
      Peer* leader = job.peers.empty() ? nullptr : peer(job.peers[0]);
      if (!leader || !connected(p, *leader)) return JobResult::failed(job.id, "leader unreachable");
      if (job.report.party.node != p.id) {
        fail("node " + std::to_string(p.id) + " reports another's evaluation");
        return JobResult::failed(job.id, "reports another's evaluation");
      }
      std::string refused = leader->driver().offer_evaluation(job.report);
      if (!refused.empty()) return JobResult::failed(job.id, refused);
      return r;
    }
    case JobKind::kPush:
      for (NodeId to : job.peers) {
        Peer* dst = peer(to);
        if (dst && connected(p, *dst)) {
          dst->store.insert(job.model_id);
          if (!job.state_id.empty()) dst->store.insert(job.state_id);
          ++r.holders;
        }
      }
      return r;
  }
  return r;
}

void FlSimulation::finish_jobs(Peer& p) {
  std::vector<RunningJob> due;
  auto split = std::partition(p.running.begin(), p.running.end(), [&](const RunningJob& j) { return j.finish_at > now_; });
  due.assign(std::make_move_iterator(split), std::make_move_iterator(p.running.end()));
  p.running.erase(split, p.running.end());
  for (const auto& j : due) {
    JobResult r = j.stopped ? JobResult::failed(j.job.id, "stopped: its attempt was superseded")
                  : j.fails ? JobResult::failed(j.job.id, "injected failure")
                            : execute(p, j.job);
    if (!r.ok) ++result_.stats.jobs_failed;
    trace("node " + std::to_string(p.id) + " " + job_kind_name(j.job.kind) + " job " + std::to_string(j.job.id) +
          (r.ok ? " done" : " failed: " + r.error));
    p.shell->new_call();
    p.driver().job_done(r);
    crash_if_pending(p);
    if (!p.alive) return;
  }
}

// ---- one node's turn ----------------------------------------------------------------------------

// The crashes a crash point asked for happen here, at the top, never inside the driver.
void FlSimulation::drive(Peer& p) {
  p.shell->new_call();
  drain(p);
  crash_if_pending(p);
  if (!p.alive || !result_.ok) return;
  bool leader = p.node->role() == raft::Role::kLeader;
  if (leader && !p.was_leader) ++result_.stats.leaders_elected;
  p.was_leader = leader;
  p.shell->new_call();
  p.driver().tick();
  crash_if_pending(p);
}

void FlSimulation::drain(Peer& p) {
  if (p.draining) return;  // a flush from inside an apply: the loop under way sends it
  p.draining = true;
  SimHandler handler(*this, p);
  Status s = raft::drain_ready(*p.node, handler);
  p.draining = false;
  if (!s.ok()) fail("driver: " + s.message());
}

void FlSimulation::crash_if_pending(Peer& p) {
  if (p.alive && p.crash_pending) crash(p);
}

bool FlSimulation::crash_at_checkpoint(Peer& p, const Checkpoint& c) {
  if (!faults_on_ || !rng_.chance(checkpoint_crash_)) return false;
  trace("node " + std::to_string(p.id) + " crashes at checkpoint " + c.point);
  p.crash_pending = true;
  p.driver().stop();
  return true;
}

// Before a proposal reaches Raft: a commit must have its model (and server state) on a
// majority of voters.
void FlSimulation::proposing(Peer& p, const Proposal& prop) {
  if (prop.kind != Proposal::Kind::kCommit) return;
  RoundRecord rec;
  msgpack::object_handle h = bounded_unpack_one(prop.command.data(), prop.command.size());
  std::string key = std::to_string(prop.round) + "/" + std::to_string(prop.term) + "/" + std::to_string(prop.attempt);
  std::string model;
  msgpack::object_handle inflated;
  const msgpack::object* body = nullptr;
  if (RoundState::command_body(h.get(), &inflated, &body).ok() && body) {
    rec = body->as<RoundRecord>();
    model = rec.model_id;
  }
  std::size_t holding = voters_holding(p, model), voters = p.node->conf_state().voters.size();
  commit_proposed_[key] = holding >= raft::majority(voters) ? "" : "its model " + model + " was held by " +
                          std::to_string(holding) + " of " + std::to_string(voters) + " voters when proposed";
  std::size_t state_holders = rec.server_state_id.empty() ? voters : voters_holding(p, rec.server_state_id);
  if (commit_proposed_[key].empty() && state_holders < raft::majority(voters)) {
    commit_proposed_[key] = "its server state was held by " + std::to_string(state_holders) + " of " +
                            std::to_string(voters) + " voters when proposed";
  }
}

// ---- the shell ----------------------------------------------------------------------------------

View SimShell::view() { return sim_.view(p_); }

void SimShell::count_output() {
  if (++outputs_ != 10000) return;
  sim_.fail("node " + std::to_string(p_.id) + "'s round driver carried out 10000 outputs in one call: it does not settle");
  driver_.stop();
}

void SimShell::log(const LogLine& line) {
  count_output();
  sim_.trace("node " + std::to_string(p_.id) + ": " + line.text);
}

void SimShell::note(const RoundNote& n) {
  count_output();
  if (n.type == "round_rerun") sim_.count_rerun();
  sim_.trace("node " + std::to_string(p_.id) + " " + n.type + " " + n.fields.str());
}

bool SimShell::checkpoint(const Checkpoint& c) { return !sim_.crash_at_checkpoint(p_, c); }

bool SimShell::propose(const Proposal& prop) {
  count_output();
  if (sim_.refuse_proposal()) return false;
  sim_.proposing(p_, prop);
  return p_.node->propose(StateMachine::tagged(StateMachine::Kind::kRound, prop.command)) == raft::RequestStatus::kOk;
}

void SimShell::flush() { sim_.drain(p_); }

void SimShell::run(const Job& job) {
  count_output();
  sim_.submit(p_, job);
}

// As in the node: the training under way and its upload end early, and say so.
void SimShell::stop_training() {
  for (auto& j : p_.running) {
    if (j.job.kind == JobKind::kTrain || j.job.kind == JobKind::kUpload) j.stopped = true;
  }
}

void FlSimulation::faults() {
  for (auto& [id, p] : peers_) {
    if (!p.alive && now_ >= p.restart_at) start(p);
  }
  Peer* leader = nullptr;
  for (auto& [id, p] : peers_) {
    if (p.alive && p.node->role() == raft::Role::kLeader) leader = &p;
  }
  if (leader && rng_.chance(leader_crash_rate_)) {
    crash(*leader);
  } else if (rng_.chance(crash_rate_)) {
    auto it = peers_.begin();
    std::advance(it, static_cast<long>(rng_.below(peers_.size())));
    if (it->second.alive) crash(it->second);
  }
  if (!partitioned_ && rng_.chance(partition_rate_)) {
    partitioned_ = true;
    ++result_.stats.partitions;
    std::string sides;
    for (auto& [id, p] : peers_) {
      p.side = static_cast<int>(rng_.below(2));
      sides += " " + std::to_string(id) + ":" + std::to_string(p.side);
    }
    trace("partition" + sides);
  } else if (partitioned_ && rng_.chance(heal_rate_)) {
    partitioned_ = false;
    for (auto& [id, p] : peers_) p.side = 0;
    trace("heal");
  }
}

FlSimResult FlSimulation::run() {
  const int total = opt_.steps + opt_.quiet_steps;
  for (int step = 0; step < total && result_.ok; ++step) {
    ++now_;
    if (step == opt_.steps) {
      faults_on_ = false;
      partitioned_ = false;
      for (auto& [id, p] : peers_) {
        p.side = 0;
        if (!p.alive) start(p);
      }
      trace("quiet phase");
    }
    if (faults_on_) faults();
    for (auto& [id, p] : peers_) {
      if (p.alive) p.node->tick();
    }
    deliver_due();
    for (auto& [id, p] : peers_) {
      if (p.alive) finish_jobs(p);
    }
    for (auto& [id, p] : peers_) {
      if (p.alive) drive(p);
    }
    check_training();
    if (!faults_on_) {
      bool all = std::all_of(peers_.begin(), peers_.end(), [&](const auto& kv) {
        return kv.second.alive && kv.second.rounds().committed().size() == run_.rounds && kv.second.rounds().finished();
      });
      if (all) {
        result_.stats.liveness_ticks = step - opt_.steps;
        break;
      }
    }
  }
  if (result_.ok && result_.stats.liveness_ticks < 0) {
    std::string where;
    for (auto& [id, p] : peers_) {
      const RoundRecord* unevaluated = p.rounds().first_unevaluated();
      where += " " + std::to_string(id) + ":" + std::to_string(p.rounds().committed().size()) +
               (unevaluated ? " (round " + std::to_string(unevaluated->round) + " not evaluated)" : "");
    }
    fail("liveness: the run did not reach its " + std::to_string(run_.rounds) + " evaluated rounds on every peer within " +
         std::to_string(opt_.quiet_steps) + " fault-free ticks (rounds per peer:" + where + ")");
  }
  result_.stats.distinct_aggregators = aggregators_.size();
  return std::move(result_);
}

}  // namespace

FlSimResult run_fl_simulation(const FlSimOptions& options) { return FlSimulation(options).run(); }

FlSimResult run_fl_seeds(std::uint64_t first, std::uint64_t count, FlSimOptions base, std::uint64_t* failing_seed,
                         FlSimStats* totals) {
  return sim_support::run_seeds(first, count, std::move(base), failing_seed, totals, &run_fl_simulation,
                                [](FlSimStats& t, const FlSimStats& r) {
                                  t.leaders_elected += r.leaders_elected;
                                  t.crashes += r.crashes;
                                  t.partitions += r.partitions;
                                  t.reruns += r.reruns;
                                  t.jobs += r.jobs;
                                  t.jobs_failed += r.jobs_failed;
                                  t.proposals_refused += r.proposals_refused;
                                  t.commits += r.commits;
                                  t.evaluations += r.evaluations;
                                  t.snapshots_installed += r.snapshots_installed;
                                  t.liveness_ticks = std::max(t.liveness_ticks, r.liveness_ticks);
                                });
}

}  // namespace fednode::fl::sim
