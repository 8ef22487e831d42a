#include "fednode/app/round/role_controller.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "fednode/app/round/round_events.h"
#include "fednode/fl/dataset.h"
#include "fednode/fl/trainer.h"

namespace fednode {
namespace {

constexpr auto kPollPeriod = std::chrono::milliseconds(100);

fl::RoundSettings settings_of(const NodeOptions& o, const LocalSource& local) {
  fl::RoundSettings s;
  s.rotate_every = o.fl.rotate_every;
  s.timings.min_ack_linger = o.fl.invite_wait_ms;
  if (o.fl.rounds == 0) return s;
  fl::RoundConfig c;
  c.rounds = o.fl.rounds;
  c.local_epochs = o.fl.local_epochs;
  c.batch_size = o.fl.batch_size;
  c.lr = o.fl.lr;
  c.momentum = o.fl.momentum;
  c.min_clients = o.fl.min_clients;
  c.fraction = o.fl.fraction;
  c.max_update_norm = o.fl.max_update_norm;
  c.aggregator = o.fl.aggregator;
  c.trim_fraction = o.fl.trim_fraction;
  c.byzantine_f = o.fl.byzantine_f;
  c.server_lr = o.fl.server_lr;
  c.server_momentum = o.fl.server_momentum;
  c.server_tau = o.fl.server_tau;
  c.proximal_mu = o.fl.proximal_mu;
  c.update_encoding = o.fl.update_encoding;
  c.clients_per_round = o.fl.clients_per_round;
  c.min_available = o.fl.min_available;
  c.keep_models = o.fl.keep_models;
  c.deadline_ms = static_cast<std::uint64_t>(o.fl.deadline_s * 1000);
  c.dataset = o.fl.dataset;
  c.model = o.fl.model;
  if (!local.model_file.empty()) {  // a TorchScript file: named, and pinned by its hash
    c.model = std::filesystem::path(local.model_file).filename().string();
    c.model_sha256 = local.model_sha256;
  }
  c.task = o.fl.task;
  c.optimizer = o.fl.optimizer;
  c.evaluate_every = o.fl.evaluate_every;
  c.partition = o.fl.partition;
  c.alpha = o.fl.alpha;
  c.seed = o.fl.seed;
  c.train_limit = o.fl.train_limit;
  c.test_limit = o.fl.test_limit;
  s.proposed = c;
  return s;
}

fl::Millis monotonic_ms() {
  return static_cast<fl::Millis>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace

RoleController::RoleController(asio::io_context& io, RaftHost& host, const NodeOptions& options, EventLog& events,
                               RoundServices services)
    : io_(io),
      host_(host),
      opt_(options),
      events_(events),
      store_(services.store),
      server_(services.server),
      jobs_(services.jobs),
      local_(std::move(services.local)),
      driver_(settings_of(options, local_), *this, services.jobs),
      poll_timer_(io) {}

RoleController::~RoleController() { stop(); }

Status RoleController::start() {
  server_.set_update_handler([this](const net::UpdateNotice& n) { return on_update(n); });
  jobs_.connect(host_.raft_view().self, [this](const std::vector<fl::NodeId>& ids) { return peers(ids); },
                [this](const JobOutcome& o) { report(o); });
  fl::set_torch_threads(opt_.fl.torch_threads);
  prepare();
  schedule_poll();
  return {};
}

// Before round 1: this node's data is loaded and one batch of it goes through the model, while
// the group elects a leader and agrees the run, not inside the first training. A node that was
// given --data or --model FILE and cannot use them says so at once (log, fl_status, metrics) and
// goes on serving Raft and the key-value store; one without the default data set learns it here
// at debug level and finds out for real when it is asked to train.
void RoleController::prepare() {
  fl::RoundConfig c;
  if (auto proposed = settings_of(opt_, local_).proposed) {
    c = *proposed;
  } else {
    c.dataset = opt_.fl.dataset;
    c.model = opt_.fl.model;
    c.model_sha256 = local_.model_sha256;
    c.task = opt_.fl.task;
    c.seed = opt_.fl.seed;
  }
  bool explicit_setup = !local_.data.empty() || !local_.model_file.empty();
  if (explicit_setup && !local_.model_file.empty() && local_.model_sha256.empty()) {
    c.model_sha256 = "unreadable";
  }
  jobs_.submit_compute(
      [c, local = local_, data = jobs_.training_sets(), store = store_, explicit_setup, this]() -> std::function<void()> {
        auto t0 = std::chrono::steady_clock::now();
        Preparation prep;
        Status s = prepare_training(c, local, *data, store, &prep);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return [this, s, seconds, prep, local, explicit_setup] {
          if (stopped_) return;
          if (s.ok() && !local_error_.empty()) return;  // the agreed run's model is not this node's
          if (s.ok()) {
            local_ready_ = prep;
            spdlog::info("training prepared in {:.2f} s: {} training and {} test samples{}; model {}", seconds,
                         prep.train_samples, prep.test_samples,
                         local.data.empty() ? "" : " from " + local.data, prep.model.describe());
          } else if (explicit_setup) {
            local_error_ = s.message();
            spdlog::error("cannot train with this node's own model and data: {}", s.message());
            events_.write("local_setup_failed", JsonLine().add("reason", s.message()));
          } else {
            spdlog::debug("not prepared for training: {}", s.message());
          }
        };
      },
      [this, explicit_setup](const std::string& why) {  // the job threw (out of memory, say) or the queue was full
        if (!explicit_setup) return;
        local_error_ = "preparing failed: " + why;
        spdlog::error("cannot train with this node's own model and data: {}", local_error_);
      });
}

void RoleController::stop() {
  stopped_ = true;
  driver_.stop();
  jobs_.stop();
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

fl::View RoleController::view() {
  fl::View v;
  v.raft = host_.raft_view();
  v.rounds = &host_.rounds();
  v.holds = [this](const std::string& id) { return store_.has(id); };
  v.now = monotonic_ms();
  v.wall_ms = fl::unix_ms();
  v.can_train = local_ready_.has_value() && !local_.data.empty();
  v.can_evaluate = v.can_train && local_ready_->test_samples > 0;
  return v;
}

// ---- inputs -------------------------------------------------------------------------------------

std::optional<fl::AggregationProgress> RoleController::progress() const {
  return driver_.machine().progress(monotonic_ms());
}

void RoleController::poll() {
  if (stopped_) return;
  driver_.tick();
}

void RoleController::on_round_event(fl::RoundEvent event, const std::string& why) {
  write_applied_round_event(events_, host_, event);
  if (event == fl::RoundEvent::kStart) metrics_.start_applied = std::chrono::steady_clock::now();
  if (event == fl::RoundEvent::kCommit) {
    for (const auto& id : fl::retired_blobs(host_.rounds())) store_.remove(id);  // --keep-models
    // What no round names any more (updates of attempts run again, models of rounds never
    // committed), once older than any transfer under way: a long run's nemesis left such blobs
    // behind, a few more every hundred rounds.
    if (std::size_t n = store_.sweep(fl::named_blobs(host_.rounds()), std::chrono::minutes(10)); n > 0) {
      spdlog::info("removed {} blob(s) no round names any more (updates of attempts run again, models never committed)", n);
    }
  }
  if (event == fl::RoundEvent::kCommit && metrics_.start_applied) {
    metrics_.round_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *metrics_.start_applied).count());
    metrics_.start_applied.reset();
  }
  if (stopped_) return;
  if (event == fl::RoundEvent::kConfig) check_run_model();
  driver_.applied(event, why);
}

// The run is agreed: a node whose module file is not the run's, or that holds no data in a run
// on each party's own, says so once; it declines the rounds it is invited to.
void RoleController::check_run_model() {
  const auto& c = host_.rounds().config();
  if (!c) return;
  if (c->dataset != "own" && !local_.data.empty()) {
    spdlog::warn("the run trains on the built-in {} (cut into shards); this node's --data {} is not used", c->dataset, local_.data);
  }
  if (c->model_sha256.empty() && !local_.model_file.empty()) {
    spdlog::warn("the run trains the built-in {}; this node's --model {} is not used", c->model, local_.model_file);
  }
  if (c->dataset == "own" && c->task != opt_.fl.task) {
    spdlog::warn("the run's task is {}, this node was started with --task {}: it follows the run", c->task, opt_.fl.task);
  }
  std::string model;
  Status s = engine_model(*c, local_, &model);
  if (s.ok() && c->dataset == "own" && local_.data.empty()) {
    s = Status::error("the run trains on each party's own data and this node has no --data: it aggregates when it "
                      "leads and declines to train");
  }
  if (s.ok()) return;
  local_ready_.reset();
  local_error_ = s.message();
  spdlog::error("cannot train in this run: {}", s.message());
  events_.write("local_setup_failed", JsonLine().add("reason", s.message()));
}

std::string RoleController::on_update(const net::UpdateNotice& n) {
  if (stopped_) return "this node is not aggregating";
  if (n.evaluation) {
    std::string refused = driver_.offer_evaluation(fl::EvaluationOffer{n.round, n.id, fl::PartyEval{n.node, n.samples, n.loss, n.metric}});
    asio::post(io_, [this] { poll(); });
    return refused;
  }
  fl::UpdateOffer u{n.id, n.round, n.term, n.attempt, n.node, n.samples, n.train_loss, n.train_seconds, n.declined};
  std::string refused = driver_.offer_update(u);
  asio::post(io_, [this] { poll(); });
  return refused;
}

void RoleController::report(const JobOutcome& o) {
  if (stopped_) return;
  if (o.result.ok && !o.result.error.empty()) spdlog::warn("job {}: {}", o.result.id, o.result.error);
  if (o.result.ok && o.result.trained.samples > 0) {
    ++metrics_.trainings;
    metrics_.training_seconds += o.result.trained.train_seconds;
  }
  driver_.job_done(o.result);
}

// ---- outputs ------------------------------------------------------------------------------------

void RoleController::log(const fl::LogLine& l) {
  switch (l.level) {
    case fl::LogLine::Level::kDebug: spdlog::debug("{}", l.text); break;
    case fl::LogLine::Level::kInfo: spdlog::info("{}", l.text); break;
    case fl::LogLine::Level::kWarn: spdlog::warn("{}", l.text); break;
    case fl::LogLine::Level::kError: spdlog::error("{}", l.text); break;
  }
}

void RoleController::note(const fl::RoundNote& n) {
  metrics_.note(n.type);
  JsonLine fields = n.fields;
  for (const auto& [key, id] : n.nodes) fields.add(key, host_.address_of(id));
  events_.write(n.type, fields);
}

void RoleController::transfer_leadership(fl::NodeId to) {
  if (!host_.transfer_leadership(to)) spdlog::warn("rotation: Raft refused to hand leadership to {}", host_.address_of(to));
}

// Where each peer is, and in secure mode the sealed call its data plane expects (its key from
// the replicated membership); a peer with no address, or no key in secure mode, is left out.
std::vector<PeerRef> RoleController::peers(const std::vector<fl::NodeId>& ids) const {
  std::vector<PeerRef> out;
  auto self_key = host_.node_key();
  for (auto id : ids) {
    PeerRef ref{id, host_.address_of(id), std::nullopt, std::nullopt};
    if (ref.address.empty()) continue;
    if (self_key) {
      std::string why;
      auto key = crypto::PublicKey::parse(host_.key_of(id), &why);
      if (!key) continue;
      ref.secure = net::SecureCall{*self_key, *key, data_prologue()};
      ref.client = net::ClientKeys{*self_key, *key, net::client_channel_prologue(opt_.cluster_id)};
    }
    out.push_back(std::move(ref));
  }
  return out;
}

std::string RoleController::data_prologue() const { return net::data_plane_prologue(opt_.cluster_id); }

// ---- the rest -----------------------------------------------------------------------------------

net::ChannelCounters RoleController::data_counters() const {
  net::ChannelCounters c = server_.counters();
  net::ChannelCounters calls = jobs_.client_counters();
  c.bytes_in += calls.bytes_in;
  c.bytes_out += calls.bytes_out;
  c.messages_in += calls.messages_in;
  c.messages_out += calls.messages_out;
  return c;
}

// --crash-at POINT:ROUND: the first node to reach it exits there (its marker file says so).
bool RoleController::checkpoint(const fl::Checkpoint& c) {
  std::string spec = c.point + ":" + std::to_string(c.round);
  if (std::find(opt_.fl.crash_at.begin(), opt_.fl.crash_at.end(), spec) == opt_.fl.crash_at.end()) return true;
  std::string marker = opt_.fl.crash_marker_dir + "/" + c.point + "-" + std::to_string(c.round);
  int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) return true;  // another node already crashed here
  ::close(fd);
  events_.write("crash_injected", JsonLine().add("point", c.point).add("round", c.round));
  spdlog::critical("fault injection: exiting at {} of round {} (--crash-at {})", c.point, c.round, spec);
  spdlog::default_logger()->flush();
  ::_exit(137);
}

}  // namespace fednode
