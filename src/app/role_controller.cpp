#include "fednode/app/role_controller.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "fednode/fl/dataset.h"
#include "fednode/fl/fedavg.h"
#include "fednode/fl/partition.h"
#include "fednode/fl/trainer.h"
#include "fednode/net/client_connection.h"

namespace fednode {
namespace {

constexpr auto kTransferTimeout = std::chrono::seconds(10);
constexpr auto kPollPeriod = std::chrono::milliseconds(100);
constexpr auto kProposalPatience = std::chrono::seconds(10);
constexpr auto kLivenessWindow = std::chrono::milliseconds(1000);
constexpr auto kGraceForNewTerm = std::chrono::milliseconds(300);
constexpr auto kRerunPause = std::chrono::milliseconds(1000);

std::string hex(raft::NodeId id) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string attempt_key(const fl::RoundStart& s) {
  return std::to_string(s.round) + "/" + std::to_string(s.term) + "/" + std::to_string(s.attempt);
}

// Where a peer's data plane listens: asked once over its client channel (diagnostic names the
// data port, which --data-port may have moved), then remembered. Used from the transfer thread.
class DataAddressBook {
 public:
  void forget(const std::string& peer) {
    std::lock_guard lock(mu_);
    known_.erase(peer);
  }
  std::optional<PeerAddress> lookup(const std::string& peer) {
    {
      std::lock_guard lock(mu_);
      if (auto it = known_.find(peer); it != known_.end()) return it->second;
    }
    std::string why;
    auto addr = parse_peer_address(peer, &why);
    if (!addr) return std::nullopt;
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> p(b);
    p.pack_map(2);
    p.pack("type");
    p.pack("diagnostic");
    p.pack("id");
    p.pack(1);
    net::ClientConnection c;
    msgpack::object_handle h;
    const auto timeout = std::chrono::milliseconds(2000);
    if (!c.connect(*addr, timeout).ok() || !c.call(std::string(b.data(), b.size()), &h, timeout).ok()) return std::nullopt;
    const msgpack::object* port = net::map_field(h.get(), "data_port");
    if (!port || port->type != msgpack::type::POSITIVE_INTEGER || port->via.u64 == 0 || port->via.u64 > 65535) {
      return std::nullopt;
    }
    PeerAddress data{addr->host, static_cast<std::uint16_t>(port->via.u64)};
    std::lock_guard lock(mu_);
    known_[peer] = data;
    return data;
  }

 private:
  std::mutex mu_;
  std::map<std::string, PeerAddress> known_;
};

// Never destroyed: detached push threads (model_push.h) may still use it while the process exits.
DataAddressBook& address_book() {
  static auto* book = new DataAddressBook;
  return *book;
}

// Fetches blob `id` from the first of `sources` (HOST:PORT client addresses) that has it and
// stores it; `from` names the source. Runs on the transfer thread.
Status fetch_from(const std::vector<std::string>& sources, const std::string& id, fl::ModelStore store,
                  net::TransferStats* stats, std::string* from) {
  Status s = Status::error("model " + id.substr(0, 12) + " found on no peer");
  for (const auto& peer : sources) {
    auto addr = address_book().lookup(peer);
    if (!addr) continue;
    std::string bytes, stored;
    s = net::fetch_blob(*addr, id, &bytes, kTransferTimeout, net::kDefaultMaxFrame, stats);
    if (s.ok()) s = store.put_bytes(bytes, &stored);
    if (s.ok()) {
      *from = peer;
      return s;
    }
    address_book().forget(peer);  // it may have come back on another port
  }
  return s;
}

}  // namespace

// Data sets stay loaded between rounds; only jobs on the compute thread touch this.
struct RoleController::Workspace {
  std::map<std::string, std::shared_ptr<const fl::Dataset>> cache;

  Status get(const fl::RoundConfig& c, const std::string& dir, bool train, std::shared_ptr<const fl::Dataset>* out) {
    std::string key = c.dataset + "|" + dir + "|" + (train ? "train" : "test");
    if (auto it = cache.find(key); it != cache.end()) {
      *out = it->second;
      return {};
    }
    auto d = std::make_shared<fl::Dataset>();
    Status s = c.dataset == "cifar10" ? fl::load_cifar10(dir, train, d.get()) : fl::load_fashion_mnist(dir, train, d.get());
    if (!s.ok()) return s;
    cache[key] = d;
    *out = d;
    return {};
  }
};

RoleController::RoleController(asio::io_context& io, RaftHost& host, const NodeOptions& options, EventLog& events)
    : io_(io),
      host_(host),
      opt_(options),
      events_(events),
      store_(options.data_dir + "/models"),
      server_(io, store_, net::kDefaultMaxFrame, std::chrono::milliseconds(30000)),
      poll_timer_(io),
      workspace_(std::make_shared<Workspace>()),
      train_generation_(std::make_shared<std::atomic<std::uint64_t>>(0)),
      compute_(std::make_unique<WorkerThread>(io, 16)),
      transfer_(std::make_unique<WorkerThread>(io, 64)),
      push_(std::make_unique<WorkerThread>(io, 16)) {}

RoleController::~RoleController() {
  stop();
  compute_.reset();  // joins: a running training job sees the generation change and ends
  transfer_.reset();
  push_.reset();
}

Status RoleController::start() {
  if (Status s = store_.init(); !s.ok()) return s;
  if (Status s = server_.listen(PeerAddress{opt_.self.host, opt_.data_port}); !s.ok()) return s;
  server_.set_update_handler([this](const net::UpdateNotice& n) { return on_update(n); });
  fl::set_torch_threads(opt_.fl.torch_threads);
  schedule_poll();
  return {};
}

void RoleController::stop() {
  stopped_ = true;
  ++*train_generation_;
  poll_timer_.cancel();
  server_.set_update_handler(nullptr);
}

void RoleController::schedule_poll() {
  poll_timer_.expires_after(kPollPeriod);
  poll_timer_.async_wait([this](const std::error_code& ec) {
    if (ec || stopped_) return;
    poll();
    schedule_poll();
  });
}

net::ChannelCounters RoleController::data_counters() const {
  net::ChannelCounters c = server_.counters();
  net::TransferStats late = late_->read();
  c.bytes_in += client_counters_.bytes_in + late.bytes_in;
  c.bytes_out += client_counters_.bytes_out + late.bytes_out;
  c.messages_in += client_counters_.messages_in + late.messages_in;
  c.messages_out += client_counters_.messages_out + late.messages_out;
  return c;
}

void RoleController::count(const net::TransferStats& s) {
  client_counters_.bytes_in += s.bytes_in;
  client_counters_.bytes_out += s.bytes_out;
  client_counters_.messages_in += s.messages_in;
  client_counters_.messages_out += s.messages_out;
}

void RoleController::maybe_crash(const char* point, std::uint64_t round) {
  std::string spec = std::string(point) + ":" + std::to_string(round);
  if (std::find(opt_.fl.crash_at.begin(), opt_.fl.crash_at.end(), spec) == opt_.fl.crash_at.end()) return;
  std::string marker = opt_.fl.crash_marker_dir + "/" + std::string(point) + "-" + std::to_string(round);
  int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) return;  // another node already crashed here
  ::close(fd);
  events_.write("crash_injected", JsonLine().add("point", point).add("round", round));
  spdlog::critical("fault injection: exiting at {} of round {} (--crash-at {})", point, round, spec);
  spdlog::default_logger()->flush();
  ::_exit(137);
}

void RoleController::poll() {
  if (stopped_) return;
  raft::Role role = host_.role();
  raft::Term term = host_.term();
  if (role != last_role_ || term != last_term_) {
    if (role == raft::Role::kLeader && last_role_ != raft::Role::kLeader) {
      events_.write("became_leader", JsonLine().add("term", term));
      last_heard_.clear();
      leader_since_ = Clock::now();
      ++*train_generation_;  // an aggregator does not train
      training_key_.clear();
    } else if (role != raft::Role::kLeader && last_role_ == raft::Role::kLeader) {
      events_.write("lost_leadership", JsonLine().add("term", term));
    }
    last_role_ = role;
    last_term_ = term;
  }
  if (agg_ && (role != raft::Role::kLeader || agg_->term != term)) {
    spdlog::info("round {}: no longer leader, stopped aggregating", agg_->start.round);
    events_.write("stopped_aggregating", JsonLine().add("round", agg_->start.round).add("term", agg_->term));
    agg_.reset();
  }
  // Any node keeps a copy of the latest global model (a wiped node gets it back here).
  const auto& rounds = host_.rounds();
  if (std::string last = rounds.last_model_id(); !last.empty() && !store_.has(last) && role != raft::Role::kLeader) {
    fetch_model(last, rounds.committed().empty() ? raft::kNoNode : rounds.committed().back().aggregator);
  }
  if (role == raft::Role::kLeader) {
    auto now = Clock::now();
    for (const auto& f : host_.followers()) {
      if (f.recent_active) last_heard_[f.id] = now;
    }
    lead();
  } else {
    follow();
  }
}

// ---- aggregator -------------------------------------------------------------------------------

void RoleController::lead() {
  if (!host_.term_start_applied()) return;
  const auto& rounds = host_.rounds();
  if (!rounds.config()) {
    if (opt_.fl.rounds > 0 && config_term_ != host_.term()) propose_config();
    return;
  }
  if (rounds.done()) return;
  if (!agg_) {
    if (Clock::now() >= next_start_) propose_start();
    return;
  }
  advance_round();
}

void RoleController::propose_config() {
  config_term_ = host_.term();
  fl::RoundConfig c;
  c.rounds = opt_.fl.rounds;
  c.local_epochs = opt_.fl.local_epochs;
  c.batch_size = opt_.fl.batch_size;
  c.lr = opt_.fl.lr;
  c.momentum = opt_.fl.momentum;
  c.min_clients = opt_.fl.min_clients;
  c.fraction = opt_.fl.fraction;
  c.deadline_ms = static_cast<std::uint64_t>(opt_.fl.deadline_s * 1000);
  c.dataset = opt_.fl.dataset;
  c.model = opt_.fl.model;
  c.partition = opt_.fl.partition;
  c.alpha = opt_.fl.alpha;
  c.seed = opt_.fl.seed;
  c.train_limit = opt_.fl.train_limit;
  c.test_limit = opt_.fl.test_limit;
  raft::Term term = host_.term();
  run_job(*compute_, [this, c, term, store = store_]() mutable -> std::function<void()> {
    fl::ModelWeights w;
    std::string id;
    Status s = fl::initial_weights(c.model, c.seed, &w);
    if (s.ok()) s = store.put(w, &id);
    return [this, c, term, s, id]() mutable {
      if (host_.role() != raft::Role::kLeader || host_.term() != term) return;
      if (!s.ok()) {
        spdlog::error("initial model: {}", s.message());
        config_term_ = 0;
        return;
      }
      c.initial_model_id = id;
      replicate(id, [this, c, term](std::size_t) {
        if (host_.role() != raft::Role::kLeader || host_.term() != term || host_.rounds().config()) return;
        spdlog::info("proposing the run configuration: {} rounds of {} on {}, initial model {}", c.rounds, c.model,
                     c.dataset, c.initial_model_id.substr(0, 12));
        if (!host_.propose(fl::RoundState::encode_config(c))) config_term_ = 0;  // try again next poll
      });
    };
  }, [this](const std::string& why) {
    spdlog::error("initial model: {}", why);
    config_term_ = 0;
  });
}

// Followers Raft hears from: acknowledged an entry of this term and answered within the last
// second (recent_active is cleared at every check-quorum, so one sample is not enough).
std::vector<std::uint64_t> RoleController::live_trainers() const {
  std::vector<std::uint64_t> live;
  raft::Index start = host_.term_start_index();
  auto now = Clock::now();
  for (const auto& f : host_.followers()) {
    auto seen = last_heard_.find(f.id);
    if (f.match >= start && seen != last_heard_.end() && now - seen->second < kLivenessWindow) live.push_back(f.id);
  }
  return live;
}

std::size_t RoleController::voter_count() const {
  std::size_t n = 1;
  for (const auto& f : host_.followers()) n += f.learner ? 0 : 1;
  return n;
}

void RoleController::propose_start() {
  const auto& rounds = host_.rounds();
  const auto& c = *rounds.config();
  // A new leader gives every follower a moment to acknowledge its term before inviting.
  bool all_matched = true;
  for (const auto& f : host_.followers()) all_matched &= f.match >= host_.term_start_index();
  if (!all_matched && Clock::now() - leader_since_ < kGraceForNewTerm) return;
  fl::RoundStart s;
  s.round = rounds.last_round() + 1;
  s.participants = fl::choose_participants(live_trainers(), c.fraction, c.seed, s.round);
  if (s.participants.size() < c.min_clients) {
    if (Clock::now() - waiting_logged_ > std::chrono::seconds(5)) {
      waiting_logged_ = Clock::now();
      spdlog::info("round {}: waiting for trainers ({} live, --min-clients {})", s.round, s.participants.size(),
                   c.min_clients);
    }
    return;
  }
  s.term = host_.term();
  s.attempt = ++attempts_;
  s.base_model_id = rounds.last_model_id();
  s.aggregator = host_.self_id();
  s.deadline_ms = c.deadline_ms;
  s.start_ms = fl::unix_ms();
  if (!host_.propose(fl::RoundState::encode_start(s))) return;
  agg_ = Aggregation{};
  agg_->term = s.term;
  agg_->start = s;
  agg_->since = Clock::now();
  spdlog::info("round {}: proposed round_start with {} participant(s)", s.round, s.participants.size());
  host_.flush();
  maybe_crash("start", s.round);
}

void RoleController::advance_round() {
  const auto& rounds = host_.rounds();
  Aggregation& a = *agg_;
  switch (a.phase) {
    case Phase::kStarting:
      if (rounds.current() && rounds.current()->term == a.term && rounds.current()->attempt == a.start.attempt) {
        a.phase = Phase::kCollecting;
        a.since = Clock::now();
        a.deadline = a.since + std::chrono::milliseconds(a.start.deadline_ms);
        maybe_crash("training", a.start.round);
      } else if (Clock::now() - a.since > kProposalPatience) {
        agg_.reset();  // the proposal was lost; propose again
      }
      return;
    case Phase::kCollecting: {
      // Stop waiting for participants Raft no longer hears from.
      std::set<std::uint64_t> live;
      for (auto id : live_trainers()) live.insert(id);
      bool waiting = false;
      for (auto id : a.start.participants) waiting |= !a.updates.count(id) && live.count(id);
      if (waiting && Clock::now() < a.deadline) return;
      if (a.updates.size() < rounds.config()->min_clients) {
        spdlog::warn("round {}: {} of {} update(s) arrived, fewer than --min-clients {}; running the round again",
                     a.start.round, a.updates.size(), a.start.participants.size(), rounds.config()->min_clients);
        events_.write("round_rerun", JsonLine().add("round", a.start.round).add("updates", std::uint64_t{a.updates.size()}));
        agg_.reset();
        next_start_ = Clock::now() + kRerunPause;
        return;
      }
      return aggregate();
    }
    case Phase::kCommitting:
      if (rounds.last_round() >= a.start.round) {
        agg_.reset();
      } else if (Clock::now() - a.since > kProposalPatience) {
        agg_.reset();
      }
      return;
    case Phase::kAggregating:
    case Phase::kPushing:
      return;
  }
}

std::string RoleController::on_update(const net::UpdateNotice& n) {
  if (!agg_ || host_.role() != raft::Role::kLeader || agg_->term != host_.term()) return "this node is not aggregating";
  Aggregation& a = *agg_;
  if (n.round != a.start.round || n.term != a.term || n.attempt != a.start.attempt) {
    return "update for round " + std::to_string(n.round) + " attempt " + std::to_string(n.term) + "/" +
           std::to_string(n.attempt) + " does not match the round being aggregated";
  }
  if (a.phase != Phase::kCollecting) return "round " + std::to_string(n.round) + " no longer takes updates";
  if (!std::binary_search(a.start.participants.begin(), a.start.participants.end(), n.node)) {
    return "node " + hex(n.node) + " is not a participant of round " + std::to_string(n.round);
  }
  if (n.samples == 0) return "update with no samples";
  a.updates[n.node] = Update{n.id, fl::TrainerResult{n.node, n.samples, n.train_loss, n.train_seconds}};
  events_.write("update_received", JsonLine()
                                       .add("round", n.round)
                                       .add("from", host_.address_of(n.node))
                                       .add("samples", n.samples)
                                       .add("train_loss", n.train_loss)
                                       .add("train_seconds", n.train_seconds));
  asio::post(io_, [this] { poll(); });
  return "";
}

void RoleController::aggregate() {
  Aggregation& a = *agg_;
  a.phase = Phase::kAggregating;
  maybe_crash("aggregating", a.start.round);
  std::vector<Update> updates;
  for (const auto& [id, u] : a.updates) updates.push_back(u);
  fl::RoundConfig c = *host_.rounds().config();
  std::string dir = dataset_dir(c.dataset);
  raft::Term term = a.term;
  std::uint64_t attempt = a.start.attempt;
  spdlog::info("round {}: aggregating {} update(s)", a.start.round, updates.size());
  run_job(*compute_, [this, updates, c, dir, term, attempt, store = store_, ws = workspace_]() mutable -> std::function<void()> {
    auto t0 = Clock::now();
    std::vector<fl::ClientUpdate> cu;
    Status s;
    for (const auto& u : updates) {
      fl::ClientUpdate one;
      if (s = store.get(u.model_id, &one.weights); !s.ok()) break;
      one.samples = u.result.samples;
      cu.push_back(std::move(one));
    }
    fl::ModelWeights global;
    std::string id;
    fl::EvalResult eval;
    std::shared_ptr<const fl::Dataset> test;
    if (s.ok()) s = fl::fedavg(cu, &global);
    if (s.ok()) s = store.put(global, &id);
    // Updates are not models anyone fetches; once averaged they only take disk space.
    for (const auto& u : updates) {
      if (s.ok() && u.model_id != id) store.remove(u.model_id);
    }
    if (s.ok()) s = ws->get(c, dir, false, &test);
    if (s.ok()) {
      fl::Dataset limited;
      const fl::Dataset* data = test.get();
      if (c.test_limit > 0 && c.test_limit < test->size()) {
        limited = *test;
        limited.labels.resize(c.test_limit);
        limited.pixels.resize(c.test_limit * test->image_bytes());
        data = &limited;
      }
      s = fl::evaluate(c.model, global, *data, 256, &eval);
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return [this, s, id, eval, seconds, term, attempt, updates]() {
      if (!current(term, attempt)) return;
      Aggregation& a = *agg_;
      if (!s.ok()) {
        spdlog::error("round {}: aggregation failed: {}; running the round again", a.start.round, s.message());
        agg_.reset();
        return;
      }
      fl::RoundRecord& r = a.record;
      r.round = a.start.round;
      r.term = a.term;
      r.attempt = a.start.attempt;
      r.model_id = id;
      r.base_model_id = a.start.base_model_id;
      r.aggregator = host_.self_id();
      r.participants = a.start.participants;
      double loss = 0;
      std::uint64_t samples = 0;
      for (const auto& u : updates) {
        r.results.push_back(u.result);
        loss += u.result.train_loss * static_cast<double>(u.result.samples);
        samples += u.result.samples;
      }
      r.train_loss = samples ? loss / static_cast<double>(samples) : 0;
      r.test_loss = eval.loss;
      r.test_accuracy = eval.accuracy;
      r.start_ms = a.start.start_ms;
      events_.write("aggregated", JsonLine()
                                      .add("round", r.round)
                                      .add("model_id", id)
                                      .add("updates", std::uint64_t{updates.size()})
                                      .add("test_accuracy", eval.accuracy)
                                      .add("seconds", seconds));
      a.phase = Phase::kPushing;
      replicate(id, [this, term, attempt](std::size_t) {
        if (!current(term, attempt)) return;
        maybe_crash("pushed", agg_->start.round);
        propose_commit();
      });
    };
  }, [this, term, attempt](const std::string& why) {
    if (!current(term, attempt)) return;
    spdlog::error("round {}: aggregation failed: {}; running the round again", agg_->start.round, why);
    agg_.reset();
  });
}

bool RoleController::current(raft::Term term, std::uint64_t attempt) const {
  return agg_ && agg_->term == term && agg_->start.attempt == attempt && host_.role() == raft::Role::kLeader &&
         host_.term() == term && !stopped_;
}

// Stores `model_id` on voters until a majority (this node included) holds it, then calls `then`.
void RoleController::replicate(const std::string& model_id, std::function<void(std::size_t)> then) {
  raft::Term term = host_.term();
  std::vector<std::pair<raft::NodeId, std::string>> targets;
  for (const auto& f : host_.followers()) {
    if (!f.learner) targets.emplace_back(f.id, host_.address_of(f.id));
  }
  std::size_t majority = voter_count() / 2 + 1;
  run_job(*push_, [this, model_id, then, term, targets, majority, store = store_, late = late_]() -> std::function<void()> {
    auto bytes = std::make_shared<std::string>();
    Status read = store.get_bytes(model_id, bytes.get());
    PushOutcome pushed;
    if (read.ok()) {
      PushPlan plan;
      for (const auto& [id, peer] : targets) plan.peers.push_back(peer);
      plan.id = model_id;
      plan.bytes = bytes;
      plan.enough = majority - 1;  // this node holds it
      plan.timeout = kTransferTimeout;
      plan.resolve = [](const std::string& peer) { return address_book().lookup(peer); };
      plan.forget = [](const std::string& peer) { address_book().forget(peer); };
      pushed = push_to_peers(plan, late);
    }
    return [this, model_id, then, term, majority, read, holders = pushed.holders, failures = pushed.failures,
            total = pushed.stats]() {
      count(total);
      if (host_.role() != raft::Role::kLeader || host_.term() != term || stopped_) return;
      if (!read.ok()) {
        spdlog::error("model {}: {}", model_id.substr(0, 12), read.message());
        return;
      }
      for (const auto& f : failures) spdlog::warn("model {}: push failed: {}", model_id.substr(0, 12), f);
      events_.write("model_pushed", JsonLine().add("model_id", model_id).add("holders", holders).add("majority", std::uint64_t{majority}));
      if (holders.size() + 1 >= majority) return then(holders.size() + 1);
      spdlog::warn("model {}: only {} of {} voters hold it; pushing again", model_id.substr(0, 12), holders.size() + 1,
                   majority);
      retry_replicate(model_id, then);
    };
  }, [this, model_id, then](const std::string& why) {
    spdlog::warn("model {}: push job failed: {}; pushing again", model_id.substr(0, 12), why);
    retry_replicate(model_id, then);
  });
}

void RoleController::retry_replicate(const std::string& model_id, std::function<void(std::size_t)> then) {
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(500));
  timer->async_wait([this, timer, model_id, then](const std::error_code& ec) {
    if (!ec && !stopped_ && host_.role() == raft::Role::kLeader) replicate(model_id, then);
  });
}

// Nothing handed to a worker is lost: a full queue or a job that throws reaches `failed` on the
// control loop (at once for a full queue), like any other outcome.
void RoleController::run_job(WorkerThread& worker, WorkerThread::Job job, WorkerThread::Failure failed) {
  if (!worker.submit(std::move(job), failed)) failed("worker queue full");
}

void RoleController::propose_commit() {
  Aggregation& a = *agg_;
  a.record.end_ms = fl::unix_ms();
  if (!host_.propose(fl::RoundState::encode_commit(a.record))) {
    spdlog::warn("round {}: round_commit refused by Raft; running the round again", a.start.round);
    agg_.reset();
    return;
  }
  a.phase = Phase::kCommitting;
  a.since = Clock::now();
}

// ---- every node: applied round events ----------------------------------------------------------

void RoleController::on_round_event(fl::RoundEvent event, const std::string& why) {
  const auto& rounds = host_.rounds();
  switch (event) {
    case fl::RoundEvent::kIgnored:
      spdlog::debug("FL command ignored: {}", why);
      return;
    case fl::RoundEvent::kConfig: {
      const auto& c = *rounds.config();
      spdlog::info("run configuration committed: {} rounds, {} on {}, {} local epoch(s), lr {}", c.rounds, c.model,
                   c.dataset, c.local_epochs, c.lr);
      events_.write("config", JsonLine()
                                  .add("rounds", c.rounds)
                                  .add("dataset", c.dataset)
                                  .add("model", c.model)
                                  .add("local_epochs", c.local_epochs)
                                  .add("lr", c.lr)
                                  .add("partition", c.partition)
                                  .add("min_clients", c.min_clients)
                                  .add("initial_model_id", c.initial_model_id));
      return;
    }
    case fl::RoundEvent::kStart: {
      const auto& s = *rounds.current();
      note_start_applied(s);
      std::vector<std::string> names;
      for (auto id : s.participants) names.push_back(host_.address_of(id));
      events_.write("round_start", JsonLine()
                                       .add("round", s.round)
                                       .add("term", s.term)
                                       .add("attempt", s.attempt)
                                       .add("aggregator", host_.address_of(s.aggregator))
                                       .add("participants", names)
                                       .add("base_model_id", s.base_model_id));
      return;
    }
    case fl::RoundEvent::kCommit: {
      const auto& r = rounds.committed().back();
      std::vector<std::string> names;
      for (const auto& t : r.results) names.push_back(host_.address_of(t.node));
      JsonLine line;
      line.add("round", r.round)
          .add("model_id", r.model_id)
          .add("aggregator", host_.address_of(r.aggregator))
          .add("term", r.term)
          .add("participants", names)
          .add("invited", std::uint64_t{r.participants.size()})
          .add("samples", r.samples())
          .add("train_loss", r.train_loss)
          .add("test_loss", r.test_loss)
          .add("test_accuracy", r.test_accuracy)
          .add("start_ms", r.start_ms)
          .add("end_ms", r.end_ms);
      host_.add_traffic(&line);
      events_.write("round_commit", line);
      spdlog::info("round {} committed: model {}, test accuracy {:.4f}, {} update(s)", r.round, r.model_id.substr(0, 12),
                   r.test_accuracy, r.results.size());
      if (rounds.done()) {
        spdlog::info("all {} rounds committed", rounds.config()->rounds);
        events_.write("run_done", JsonLine().add("rounds", r.round).add("model_id", r.model_id));
      }
      if (host_.role() == raft::Role::kLeader && opt_.fl.rotate_every > 0 && r.round % opt_.fl.rotate_every == 0 &&
          !rounds.done()) {
        // Fair rotation: the next voter (by id, wrapping) that Raft hears from takes over.
        std::vector<raft::NodeId> voters;
        std::set<raft::NodeId> live;
        for (const auto& f : host_.followers()) {
          if (!f.learner) voters.push_back(f.id);
          if (f.recent_active) live.insert(f.id);
        }
        voters.push_back(host_.self_id());
        std::sort(voters.begin(), voters.end());
        auto me = std::find(voters.begin(), voters.end(), host_.self_id()) - voters.begin();
        for (std::size_t k = 1; k < voters.size(); ++k) {
          raft::NodeId next = voters[(static_cast<std::size_t>(me) + k) % voters.size()];
          if (!live.count(next)) continue;
          if (host_.transfer_leadership(next)) {
            spdlog::info("rotation: handing the aggregator role to {} after round {}", host_.address_of(next), r.round);
            events_.write("rotate", JsonLine().add("round", r.round).add("to", host_.address_of(next)));
          }
          break;
        }
      }
      return;
    }
  }
}

// ---- trainer ------------------------------------------------------------------------------------

void RoleController::follow() {
  const auto& rounds = host_.rounds();
  const auto& s = rounds.current();
  if (!s || !rounds.config()) return;
  if (!std::binary_search(s->participants.begin(), s->participants.end(), host_.self_id())) return;
  std::string key = attempt_key(*s);
  if (key == training_key_) return;
  note_start_applied(*s);
  if (Clock::now() - applied_start_at_ > std::chrono::milliseconds(s->deadline_ms)) return;  // stale start
  training_key_ = key;
  train(*s);
}

// The first time this node sees a round attempt (applied from the log, or restored from a
// snapshot) starts its local clock for that attempt's deadline.
void RoleController::note_start_applied(const fl::RoundStart& s) {
  std::string key = attempt_key(s);
  if (key == applied_start_key_) return;
  applied_start_key_ = key;
  applied_start_at_ = Clock::now();
}

// Who may hold a model: the preferred peer (the round's aggregator), then the aggregators of
// committed rounds (latest first), then every other member.
std::vector<std::string> RoleController::data_sources(raft::NodeId preferred) const {
  std::vector<std::string> out;
  auto add = [&](raft::NodeId id) {
    std::string a = host_.address_of(id);
    if (id != host_.self_id() && !a.empty() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  if (preferred != raft::kNoNode) add(preferred);
  const auto& done = host_.rounds().committed();
  for (auto it = done.rbegin(); it != done.rend(); ++it) add(it->aggregator);
  for (auto id : host_.member_ids()) add(id);
  return out;
}

void RoleController::fetch_model(const std::string& id, raft::NodeId preferred) {
  if (fetching_.count(id)) return;
  if (auto retry = fetch_retry_at_.find(id); retry != fetch_retry_at_.end() && Clock::now() < retry->second) return;
  std::vector<std::string> sources = data_sources(preferred);
  if (sources.empty()) return;
  fetching_.insert(id);
  run_job(*transfer_, [this, id, sources, store = store_]() mutable -> std::function<void()> {
    net::TransferStats st;
    std::string from;
    Status s = fetch_from(sources, id, store, &st, &from);
    return [this, id, s, st, from]() {
      count(st);
      fetching_.erase(id);
      if (s.ok()) {
        fetch_retry_at_.erase(id);
        events_.write("model_fetched", JsonLine().add("model_id", id).add("from", from));
      } else {
        fetch_retry_at_[id] = Clock::now() + std::chrono::seconds(2);
        spdlog::warn("model {}: fetch failed: {}; trying again in 2 s", id.substr(0, 12), s.message());
      }
    };
  }, [this, id](const std::string& why) {
    fetching_.erase(id);
    fetch_retry_at_[id] = Clock::now() + std::chrono::seconds(2);
    spdlog::warn("model {}: fetch job failed: {}; trying again in 2 s", id.substr(0, 12), why);
  });
}

void RoleController::train(const fl::RoundStart& start) {
  const fl::RoundConfig c = *host_.rounds().config();
  std::uint64_t generation = ++*train_generation_;
  auto position = std::find(start.participants.begin(), start.participants.end(), host_.self_id()) - start.participants.begin();
  std::string aggregator = host_.address_of(start.aggregator);
  std::vector<std::string> sources = data_sources(start.aggregator);
  std::string dir = dataset_dir(c.dataset);
  raft::NodeId self = host_.self_id();
  auto gen = train_generation_;
  auto training_failed = [this, round = start.round](const std::string& why) {
    spdlog::error("round {}: training job failed: {}", round, why);
    events_.write("training_failed", JsonLine().add("round", round).add("reason", why));
  };
  spdlog::info("round {}: training as participant {} of {}", start.round, position + 1, start.participants.size());
  events_.write("training", JsonLine().add("round", start.round).add("attempt", start.attempt));
  // 1. the base model (transfer thread), 2. training (compute thread), 3. the upload (transfer).
  run_job(*transfer_, [=, this, store = store_]() mutable -> std::function<void()> {
    net::TransferStats st;
    Status s;
    if (!store.has(start.base_model_id)) {
      std::string from;
      s = fetch_from(sources, start.base_model_id, store, &st, &from);
    }
    return [=, this]() {
      count(st);
      if (*gen != generation) return;
      if (!s.ok()) {
        spdlog::warn("round {}: {}", start.round, s.message());
        return;
      }
      run_job(*compute_, [=, this, store = store, ws = workspace_]() mutable -> std::function<void()> {
        fl::TrainResult result;
        std::string update_bytes;
        std::shared_ptr<const fl::Dataset> data;
        fl::ModelWeights base;
        Status t = store.get(start.base_model_id, &base);
        if (t.ok()) t = ws->get(c, dir, true, &data);
        fl::Shards shards;
        std::size_t n = 0;
        if (t.ok()) {
          n = c.train_limit > 0 ? std::min<std::size_t>(c.train_limit, data->size()) : data->size();
          if (c.partition == "dirichlet") {
            std::vector<std::uint8_t> labels(data->labels.begin(), data->labels.begin() + static_cast<std::ptrdiff_t>(n));
            t = fl::partition_dirichlet(labels, data->classes, start.participants.size(), c.alpha, 1, c.seed, &shards);
          } else {
            shards = fl::partition_iid(n, start.participants.size(), c.seed);
          }
        }
        if (t.ok()) {
          fl::TrainConfig tc;
          tc.epochs = c.local_epochs;
          tc.batch_size = c.batch_size;
          tc.lr = c.lr;
          tc.momentum = c.momentum;
          tc.seed = c.seed ^ (start.round * 0x9E3779B97F4A7C15ull) ^ self;
          tc.should_stop = [gen, generation] { return *gen != generation; };
          t = fl::train_local(c.model, base, *data, shards[static_cast<std::size_t>(position)], tc, nullptr, &result);
        }
        if (t.ok()) update_bytes = fl::serialize_weights(result.weights);
        return [=, this]() {
          if (*gen != generation) return;
          if (!t.ok()) {
            spdlog::error("round {}: training failed: {}", start.round, t.message());
            events_.write("training_failed", JsonLine().add("round", start.round).add("reason", t.message()));
            return;
          }
          events_.write("trained", JsonLine()
                                       .add("round", start.round)
                                       .add("samples", result.samples)
                                       .add("train_loss", result.train_loss)
                                       .add("seconds", result.seconds));
          net::UpdateNotice notice;
          notice.id = fl::sha256_hex(update_bytes);
          notice.round = start.round;
          notice.term = start.term;
          notice.attempt = start.attempt;
          notice.node = self;
          notice.samples = result.samples;
          notice.train_loss = result.train_loss;
          notice.train_seconds = result.seconds;
          run_job(*transfer_, [=, this]() -> std::function<void()> {
            net::TransferStats up;
            auto addr = address_book().lookup(aggregator);
            // A newer attempt of this node's training makes this upload useless: drop it at once
            // rather than hold the next upload behind a deposed aggregator's timeout.
            Status u = addr ? net::upload_update(*addr, notice, update_bytes, kTransferTimeout, &up,
                                                 [gen, generation] { return *gen != generation; })
                            : Status::error("aggregator " + aggregator + " unreachable");
            return [=, this]() {
              count(up);
              if (u.ok()) {
                spdlog::info("round {}: update uploaded to {}", start.round, aggregator);
              } else {
                spdlog::warn("round {}: upload to {} failed: {}", start.round, aggregator, u.message());
              }
            };
          }, training_failed);
        };
      }, training_failed);
    };
  }, training_failed);
}

std::string RoleController::dataset_dir(const std::string& dataset) const {
  if (dataset == opt_.fl.dataset && !opt_.fl.dataset_dir.empty()) return opt_.fl.dataset_dir;
  return dataset == "cifar10" ? "data/cifar-10-batches-bin" : "/usr/share/datasets/fashion-mnist";
}

}  // namespace fednode
