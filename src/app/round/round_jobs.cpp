#include "fednode/app/round/round_jobs.h"
#include "fednode/fl/update_rows.h"

#include <filesystem>
#include <numeric>
#include <optional>

#include "fednode/fl/robust_aggregation.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "fednode/app/round/peer_directory.h"
#include "fednode/fl/fedavg.h"
#include "fednode/fl/partition.h"
#include "fednode/fl/trainer.h"
#include "fednode/fl/update_check.h"
#include "fednode/fl/update_codec.h"
#include "fednode/fl/update_rows.h"
#include "fednode/util/file_io.h"

namespace fednode {
namespace {

constexpr auto kTransferTimeout = std::chrono::seconds(10);
using Clock = std::chrono::steady_clock;

JobOutcome failed(const fl::Job& job, const Status& s) { return {fl::JobResult::failed(job.id, s.message()), {}, {}}; }

}  // namespace

LocalSource local_source(const FlOptions& fl) {
  LocalSource l;
  l.dataset = fl.dataset;
  l.dataset_dir = fl.dataset_dir;
  l.data = fl.data;
  l.options.format = fl.data_format;
  l.options.task = fl::parse_task(fl.task).value_or(fl::Task::kClassification);
  l.options.label_column = fl.label_column;
  l.options.test_path = fl.test_data;
  l.options.test_fraction = fl.test_fraction;
  l.options.seed = fl.seed;
  l.options.image_size = fl.image_size;
  l.options.image_channels = fl.image_channels;
  if (auto n = parse_normalize(fl.normalize, fl.image_channels)) l.options.normalize = *n;
  if (!fl.model.empty() && fl.model != "cifar10-cnn" && fl.model != "fmnist-cnn") {
    l.model_file = fl.model;
    std::string bytes;
    if (read_file(fl.model, &bytes).ok()) l.model_sha256 = fl::sha256_hex(bytes);  // else engine_model says so
  }
  return l;
}

Status engine_model(const fl::RoundConfig& c, const LocalSource& local, std::string* model) {
  if (c.model_sha256.empty()) {
    *model = c.model;
    return {};
  }
  if (local.model_file.empty()) {
    return Status::error("the run trains the TorchScript model " + c.model + " (sha256 " + c.model_sha256.substr(0, 16) +
                         "...); this node has no --model FILE");
  }
  if (local.model_sha256 != c.model_sha256) {
    return Status::error("this node's --model " + local.model_file + " has sha256 " +
                         (local.model_sha256.empty() ? std::string("(unreadable)") : local.model_sha256.substr(0, 16) + "...") +
                         ", the run's model " + c.model + " has sha256 " + c.model_sha256.substr(0, 16) +
                         "...: every party needs the same file; refusing to train");
  }
  // The engine checks the file against the pin again each time it loads it (a file replaced
  // mid-run is refused, not trained).
  *model = std::string("torchscript:") + local.model_file + "#" + c.model_sha256;
  return {};
}

Status DatasetCache::get(const fl::RoundConfig& c, const LocalSource& local, bool train,
                         std::shared_ptr<const fl::Dataset>* out) {
  bool own = c.dataset == "own";
  if (own && local.data.empty()) {
    return Status::error("the run trains on each party's own data, and this node has no --data");
  }
  std::string dir = own ? local.data
                        : (c.dataset == local.dataset && !local.dataset_dir.empty() ? local.dataset_dir
                                                                                    : fl::default_dataset_dir(c.dataset));
  std::string key = c.dataset + "|" + c.task + "|" + dir + "|";
  if (auto it = cache_.find(key + (train ? "train" : "test")); it != cache_.end()) {
    *out = it->second;
    return {};
  }
  if (own) {
    fl::LocalData d;
    fl::DataOptions o = local.options;
    o.task = fl::parse_task(c.task).value_or(fl::Task::kClassification);
    if (Status s = fl::load_local_data(local.data, o, &d); !s.ok()) return s;
    if (train || keep_train_) cache_[key + "train"] = std::make_shared<fl::Dataset>(std::move(d.train));
    cache_[key + "test"] = std::make_shared<fl::Dataset>(std::move(d.test));
    *out = cache_[key + (train ? "train" : "test")];
    return {};
  }
  auto d = std::make_shared<fl::Dataset>();
  Status s = c.dataset == "cifar10" ? fl::load_cifar10(dir, train, d.get()) : fl::load_fashion_mnist(dir, train, d.get());
  if (!s.ok()) return s;
  cache_[key + (train ? "train" : "test")] = d;
  *out = d;
  return {};
}

namespace {

// The initial model of `model` and `seed`: the same bytes, so the same id, on every peer.
Status store_initial_model(const std::string& model, std::uint64_t seed, fl::ModelStore& store, std::string* id) {
  fl::ModelWeights w;
  if (Status s = fl::initial_weights(model, seed, &w); !s.ok()) return s;
  return store.put(w, id);
}

}  // namespace

Status prepare_training(const fl::RoundConfig& c, const LocalSource& local, DatasetCache& cache, fl::ModelStore store,
                        Preparation* out) {
  std::string model;
  if (Status s = engine_model(c, local, &model); !s.ok()) return s;
  std::shared_ptr<const fl::Dataset> data, test;
  if (Status s = cache.get(c, local, true, &data); !s.ok()) return s;
  if (Status s = cache.get(c, local, false, &test); !s.ok()) return s;
  out->train_samples = data->size();
  out->test_samples = test->size();
  // Loads libtorch and runs one batch of each split through the model.
  if (Status s = fl::check_model(model, *data, &out->model); !s.ok()) return s;
  fl::ModelCheck on_test;
  if (test->size() > 0) {
    if (Status s = fl::check_model(model, *test, &on_test); !s.ok()) return Status::error("test split: " + s.message());
  }
  // Makes the initial model the leader will make: the leader's push then finds it here and
  // sends nothing.
  std::string id;
  return store_initial_model(model, c.seed, store, &id);
}

JobOutcome make_initial_model(const fl::Job& job, const LocalSource& local, fl::ModelStore store) {
  JobOutcome out;
  out.result.id = job.id;
  std::string model;
  Status s = engine_model(job.config, local, &model);
  if (s.ok()) s = store_initial_model(model, job.config.seed, store, &out.result.model_id);
  if (s.ok() && !job.config.model_sha256.empty()) {
    fl::ModelWeights w;
    s = store.get(out.result.model_id, &w);
    for (const auto& p : w.parameters) {
      std::string dims;
      for (auto d : p.shape) {
        if (!dims.empty()) dims += ',';
        dims += std::to_string(d);
      }
      out.result.model_layout += (out.result.model_layout.empty() ? "" : " ") + p.name + "[" + dims + "]";
    }
  }
  return s.ok() ? out : failed(job, Status::error("initial model: " + s.message()));
}

// In ranges from up to three sources at once (net::fetch_blob_ranged: a cut transfer resumes, and
// each holder serves part), or as the change from a base the first source kept. If it fails, the
// sources are forgotten in the directory (they may have come back on other ports).
JobOutcome fetch_model(const fl::Job& job, const std::vector<PeerRef>& sources, fl::ModelStore store) {
  JobOutcome out;
  out.result.id = job.id;
  std::vector<net::FetchSource> holders;
  for (const auto& peer : sources) {  // the best three: each unknown data port costs a question
    if (holders.size() == 3) break;
    auto addr = PeerDirectory::shared().data_address(peer.address, peer.client ? &*peer.client : nullptr);
    if (!addr) continue;
    holders.push_back({*addr, peer.secure ? &*peer.secure : nullptr});
    if (holders.size() == 1) out.result.from = peer.id;
  }
  if (holders.empty()) return failed(job, Status::error("model " + job.model_id.substr(0, 12) + " found on no peer"));
  std::string bytes, stored;
  bool is_delta = false;
  Status s = net::fetch_blob_ranged(holders, job.model_id, &bytes, kTransferTimeout, {}, &out.traffic, &is_delta);
  // A change from a base this node does not hold (or that rebuilds another model): the model.
  if (s.ok() && is_delta && !store.put_from_delta(job.model_id, bytes).ok()) {
    s = net::fetch_blob_ranged(holders, job.model_id, &bytes, kTransferTimeout, {}, &out.traffic);
    is_delta = false;
  }
  if (s.ok() && !is_delta) s = store.put_bytes(bytes, &stored);
  if (s.ok()) return out;
  for (const auto& peer : sources) PeerDirectory::shared().forget(peer.address);
  JobOutcome f = failed(job, s);
  f.traffic = out.traffic;
  return f;
}

JobOutcome train_update(const fl::Job& job, fl::NodeId self, const LocalSource& local, fl::ModelStore store,
                        DatasetCache& cache, std::function<bool()> should_stop, fl::Attack attack) {
  const fl::RoundConfig& c = job.config;
  const fl::RoundStart& start = job.start;
  auto position = static_cast<std::size_t>(std::find(start.participants.begin(), start.participants.end(), self) -
                                           start.participants.begin());
  std::shared_ptr<const fl::Dataset> data;
  fl::ModelWeights base;
  std::string model;
  // What the aggregator is told when this node declines: no local paths, file or sample names.
  std::string public_reason;
  Status t = engine_model(c, local, &model);
  if (!t.ok()) {
    public_reason = local.model_file.empty() ? "it holds no copy of the run's model file"
                                             : "its model file has sha256 " + local.model_sha256.substr(0, 16) +
                                                   "..., not the run's " + c.model_sha256.substr(0, 16) + "...";
  }
  if (t.ok()) t = store.get(start.base_model_id, &base);
  if (t.ok()) {
    t = cache.get(c, local, true, &data);
    if (!t.ok()) public_reason = local.data.empty() ? "it holds no data of its own" : "its own data cannot be read (details in its log)";
  }
  fl::Shards shards;
  if (t.ok()) {
    std::size_t n = c.train_limit > 0 ? std::min<std::size_t>(c.train_limit, data->size()) : data->size();
    if (c.partition == "none") {  // a party's own data, whole
      shards.assign(start.participants.size(), {});
      if (position < shards.size()) {
        shards[position].resize(n);
        std::iota(shards[position].begin(), shards[position].end(), 0u);
      }
    } else if (c.partition == "dirichlet" && data->labels.size() < n) {
      t = Status::error("--partition dirichlet splits by class, and this data set has no class labels");
    } else if (c.partition == "dirichlet") {
      std::vector<std::int32_t> labels(data->labels.begin(), data->labels.begin() + static_cast<std::ptrdiff_t>(n));
      t = fl::partition_dirichlet(labels, data->classes, start.participants.size(), c.alpha, 1, c.seed, &shards);
    } else {
      shards = fl::partition_iid(n, start.participants.size(), c.seed);
    }
  }
  if (t.ok() && position >= shards.size()) t = Status::error("this node is not a participant of the round");
  fl::TrainResult result;
  if (t.ok()) {
    fl::TrainConfig tc;
    tc.optimizer = c.optimizer;
    tc.epochs = c.local_epochs;
    tc.batch_size = c.batch_size;
    tc.lr = c.lr;
    tc.momentum = c.momentum;
    tc.proximal_mu = c.proximal_mu;
    tc.seed = c.seed ^ (start.round * 0x9E3779B97F4A7C15ull) ^ self;
    tc.should_stop = std::move(should_stop);
    t = fl::train_local(model, base, *data, shards[position], tc, nullptr, &result);
  }
  if (!t.ok()) {
    JobOutcome f = failed(job, t);
    f.result.decline_reason = public_reason.empty() ? "its training failed (details in its log)" : public_reason;
    return f;
  }
  fl::apply_attack(attack, base, c.seed ^ start.round ^ self, &result.weights);
  auto encoding = fl::parse_update_encoding(c.update_encoding);  // the log refuses configurations without one
  auto bytes = std::make_shared<std::string>(
      fl::encode_update(encoding ? *encoding : fl::UpdateEncoding::kFp32, base, start.base_model_id, result.weights));
  JobOutcome out;
  out.result.id = job.id;
  out.result.model_id = fl::sha256_hex(*bytes);
  out.result.trained = fl::TrainerResult{self, result.samples, result.train_loss, result.seconds};
  out.update = std::move(bytes);
  return out;
}

JobOutcome upload_update(const fl::Job& job, const PeerRef& to, std::shared_ptr<const std::string> update,
                         std::function<bool()> abandon) {
  JobOutcome out;
  out.result.id = job.id;
  const std::string& aggregator = to.address;
  bool declining = !job.upload.declined.empty();
  if (!update && !declining) return failed(job, Status::error("the update to upload is gone"));
  if (aggregator.empty()) return failed(job, Status::error("the aggregator's address is unknown"));
  auto addr = PeerDirectory::shared().data_address(aggregator, to.client ? &*to.client : nullptr);
  if (!addr) return failed(job, Status::error("aggregator " + aggregator + " unreachable"));
  net::UpdateNotice n;
  n.id = job.upload.id;
  n.round = job.upload.round;
  n.term = job.upload.term;
  n.attempt = job.upload.attempt;
  n.node = job.upload.node;
  n.samples = job.upload.samples;
  n.train_loss = job.upload.train_loss;
  n.train_seconds = job.upload.train_seconds;
  n.declined = job.upload.declined;
  // A newer attempt of this node's training makes this upload useless: it is dropped at once
  // rather than hold the next upload behind a deposed aggregator's timeout. An update over 1 MiB
  // goes in parts, and a cut connection resumes where it stopped.
  Status s = declining ? net::decline_update(*addr, n, kTransferTimeout, &out.traffic, to.secure ? &*to.secure : nullptr)
                       : net::upload_update_resumable(*addr, n, *update, kTransferTimeout, {}, &out.traffic,
                                                      std::move(abandon), to.secure ? &*to.secure : nullptr);
  if (!s.ok()) {
    JobOutcome f = failed(job, Status::error("upload to " + aggregator + ": " + s.message()));
    f.traffic = out.traffic;
    return f;
  }
  return out;
}

JobOutcome report_evaluation(const fl::Job& job, const PeerRef& leader) {
  JobOutcome out;
  out.result.id = job.id;
  if (leader.address.empty()) return failed(job, Status::error("the leader's address is unknown"));
  auto addr = PeerDirectory::shared().data_address(leader.address, leader.client ? &*leader.client : nullptr);
  if (!addr) return failed(job, Status::error("leader " + leader.address + " unreachable"));
  net::UpdateNotice n;
  n.evaluation = true;
  n.id = job.report.model_id;
  n.round = job.report.round;
  n.node = job.report.party.node;
  n.samples = job.report.party.samples;
  n.loss = job.report.party.loss;
  n.metric = job.report.party.metric;
  Status s = net::report_evaluation(*addr, n, kTransferTimeout, &out.traffic, leader.secure ? &*leader.secure : nullptr);
  if (!s.ok()) {
    JobOutcome f = failed(job, Status::error("evaluation report to " + leader.address + ": " + s.message()));
    f.traffic = out.traffic;
    return f;
  }
  return out;
}

namespace {

fl::AggregatorSettings aggregator_settings(const fl::RoundConfig& c) {
  fl::AggregatorSettings rule{*fl::parse_aggregator(c.aggregator), c.trim_fraction, c.byzantine_f, {}};
  if (auto server = fl::server_rule(rule.kind)) {
    rule.server.rule = *server;
    rule.server.lr = c.server_lr > 0 ? c.server_lr : fl::default_server_lr(*server);
    rule.server.momentum = c.server_momentum;
    rule.server.tau = c.server_tau;
  }
  return rule;
}

}  // namespace

JobOutcome aggregate_updates(const fl::Job& job, fl::ModelStore store) {
  auto t0 = Clock::now();
  const fl::RoundConfig& c = job.config;
  JobOutcome out;
  out.result.id = job.id;
  fl::ModelWeights base;
  if (Status s = store.get(job.model_id, &base); !s.ok()) return failed(job, Status::error("base model: " + s.message()));
  // Every update is checked against the base model; a bad one is left out, named, not fatal.
  // One update is in memory at a time: FedAvg and the server optimisers fold it into a running
  // weighted sum, the other rules get it from a scratch file a chunk of coordinates at a time.
  fl::AggregatorSettings rule = aggregator_settings(c);
  bool mean_rule = rule.kind == fl::AggregatorKind::kFedAvg || fl::server_rule(rule.kind).has_value();
  fl::WeightedSum sum;
  std::optional<fl::SpilledRows> spilled;
  if (!mean_rule) spilled.emplace(std::filesystem::path(store.path_of("x")).parent_path().parent_path() / "aggregation", base);
  std::size_t accepted = 0;
  for (const auto& [id, result] : job.updates) {
    fl::ModelWeights one;
    std::string bytes;
    Status s = store.get_bytes(id, &bytes);
    if (s.ok()) s = fl::decode_update(bytes, base, job.model_id, &one);
    if (s.ok()) s = fl::check_update(base, one, c.max_update_norm);
    if (s.ok()) s = mean_rule ? sum.add(one, result.samples) : spilled->add(one, result.samples);
    if (!s.ok()) {
      out.result.refused.emplace_back(result.node, s.message());
      continue;
    }
    ++accepted;
  }
  if (accepted == 0) return failed(job, Status::error("no valid update to aggregate"));
  fl::ModelWeights aggregated, global, state, next_state;
  if (!job.state_id.empty()) {
    if (Status s = store.get(job.state_id, &state); !s.ok()) return failed(job, Status::error("server state: " + s.message()));
  }
  Status s = mean_rule ? sum.mean(&aggregated) : fl::aggregate_rows(rule, base, *spilled, &aggregated);
  if (s.ok()) s = fl::finish_round(rule, base, state, std::move(aggregated), &global, &next_state);
  // Compressed broadcast: with fp16 or int8 updates the new global model is the base plus the
  // encoded change, so that trainers and voters holding the base get the change (2 or 4 times
  // smaller) and rebuild the very same model; the change is kept beside the model.
  std::string delta;
  auto encoding = fl::parse_update_encoding(c.update_encoding);
  if (s.ok() && encoding && *encoding != fl::UpdateEncoding::kFp32) {
    delta = fl::encode_update(*encoding, base, job.model_id, global);
    s = fl::decode_update(delta, base, job.model_id, &global);
  }
  if (s.ok()) s = store.put(global, &out.result.model_id);
  if (s.ok() && !delta.empty()) s = store.put_delta(out.result.model_id, delta);
  if (s.ok() && !next_state.parameters.empty()) s = store.put(next_state, &out.result.state_id);
  // Updates are not models anyone fetches; once averaged (or refused) they only take disk space.
  for (const auto& [id, result] : job.updates) {
    if (s.ok() && id != out.result.model_id && id != job.model_id && id != out.result.state_id) store.remove(id);
  }
  if (!s.ok()) return failed(job, s);
  out.result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

JobOutcome evaluate_model(const fl::Job& job, const LocalSource& local, fl::ModelStore store, DatasetCache& cache) {
  auto t0 = Clock::now();
  const fl::RoundConfig& c = job.config;
  fl::ModelWeights model;
  std::shared_ptr<const fl::Dataset> test;
  std::string engine;
  Status s = engine_model(c, local, &engine);
  if (s.ok()) s = store.get(job.model_id, &model);
  if (s.ok()) s = cache.get(c, local, false, &test);
  fl::EvalResult eval;
  if (s.ok() && test->size() == 0) {  // an aggregator without a test split: the round stays untested
    JobOutcome out;
    out.result.id = job.id;
    out.result.model_id = job.model_id;
    return out;
  }
  if (s.ok()) {
    fl::Dataset limited;
    const fl::Dataset* data = test.get();
    if (c.test_limit > 0 && c.test_limit < test->size()) {
      limited = *test;
      limited.truncate(c.test_limit);
      data = &limited;
    }
    s = fl::evaluate(engine, model, *data, 256, &eval);
  }
  if (!s.ok()) return failed(job, s);
  JobOutcome out;
  out.result.id = job.id;
  out.result.model_id = job.model_id;
  out.result.test_loss = eval.loss;
  out.result.test_accuracy = eval.accuracy;
  out.result.test_mae = eval.mae;
  out.result.test_samples = eval.samples;
  out.result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

JobOutcome push_model(const fl::Job& job, const std::vector<PeerRef>& voters, fl::ModelStore store,
                      std::shared_ptr<LateTransferCounters> late) {
  PushPlan plan;
  for (const std::string& id : {job.model_id, job.state_id}) {
    if (id.empty()) continue;
    auto bytes = std::make_shared<std::string>();
    if (Status s = store.get_bytes(id, bytes.get()); !s.ok()) return failed(job, s);
    auto delta = std::make_shared<std::string>();
    if (!store.get_delta(id, delta.get()).ok()) delta.reset();
    plan.blobs.push_back({id, std::move(bytes), std::move(delta)});
  }
  std::map<std::string, net::ClientKeys> client_keys;
  for (const auto& v : voters) {
    plan.peers.push_back(v.address);
    if (v.secure) plan.secure.emplace(v.address, *v.secure);
    if (v.client) client_keys.emplace(v.address, *v.client);
  }
  plan.enough = job.enough;
  plan.timeout = kTransferTimeout;
  plan.ask_first = job.round == 0;  // the initial model: peers made it themselves (prepare_training)
  plan.resolve = [client_keys](const std::string& peer) {
    auto k = client_keys.find(peer);
    return PeerDirectory::shared().data_address(peer, k == client_keys.end() ? nullptr : &k->second);
  };
  plan.forget = [](const std::string& peer) { PeerDirectory::shared().forget(peer); };
  PushOutcome pushed = push_to_peers(plan, std::move(late));
  JobOutcome out;
  out.result.id = job.id;
  out.result.holders = pushed.holders.size();
  out.traffic = pushed.stats;
  if (!pushed.failures.empty()) {
    std::string all;
    for (const auto& f : pushed.failures) all += (all.empty() ? "" : "; ") + f;
    out.result.error = all;  // informative only: the holders count decides
  }
  return out;
}

}  // namespace fednode
