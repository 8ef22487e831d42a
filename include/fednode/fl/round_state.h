#pragma once
// RoundState: the federated-learning part of the replicated state machine. Every node applies
// the same committed commands in the same order, so every node holds the same round history.
// Commands are msgpack maps {fl: "config"|"start"|"commit"|"metrics", body: {...}}:
//   config  the run's settings and the initial model id; the first committed one wins;
//   start   round r begins (r = last committed + 1, base = last committed model); a later start
//           of the same round replaces an uncommitted one (a new leader re-runs the round);
//   commit  round r ends with a new model; only if it names the current start (term, attempt),
//           so a deposed aggregator's late commit can never overwrite a re-run;
//   metrics the test loss and accuracy of a committed round's model, evaluated after the commit
//           (off the round's critical path); only once per round, only for its model.
// Anything else is ignored, deterministically, and reported as such. No I/O in here.
#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fednode/util/status.h"

namespace fednode::fl {

struct RoundConfig {
  std::uint64_t rounds = 0;
  int local_epochs = 1;
  int batch_size = 32;
  double lr = 0.01;
  double momentum = 0.9;
  std::uint64_t min_clients = 1;  // partial aggregation needs at least this many updates
  double fraction = 1.0;          // share of the live trainers invited to each round
  std::uint64_t deadline_ms = 120000;
  std::string dataset = "cifar10";
  std::string model = "cifar10-cnn";
  std::string partition = "iid";  // iid | dirichlet
  double alpha = 0.5;             // Dirichlet concentration
  std::uint64_t seed = 1;
  std::uint64_t train_limit = 0;  // use only the first N training samples (0: all)
  std::uint64_t test_limit = 0;   // evaluate on the first N test samples (0: all)
  std::string initial_model_id;
  double max_update_norm = 0;  // refuse updates changing the base by more than this x its norm (0: off)
  std::string aggregator = "fedavg";  // robust_aggregation.h: fedavg | fedavgm | fedadam | median | ...
  double trim_fraction = 0.1;         // trimmed-mean
  std::uint64_t byzantine_f = 1;      // krum, multi-krum
  double server_lr = 0;               // fedavgm, fedadam, fedyogi (0: the rule's default)
  double server_momentum = 0.9;       // fedavgm
  double server_tau = 1e-3;           // fedadam, fedyogi
  double proximal_mu = 0;             // FedProx: trainers add mu/2 |w - base|^2 to their loss (0: off)
  std::string update_encoding = "fp32";  // update_codec.h: fp32 | fp16 | int8
  std::uint64_t clients_per_round = 0;   // invite this many of the live trainers (0: --fraction decides)
  std::uint64_t min_available = 0;       // start a round only once this many trainers are live
  std::uint64_t keep_models = 5;         // peers keep the models (and server states) of the last K commits (0: all)
  // "deflate": the run's later commands carry their bodies deflated (zbody); "": as maps. A leader
  // chooses deflate only when every member runs a version that reads it.
  std::string command_encoding;
  // A party's own model and data (fl/local_data.h). model_sha256: the TorchScript file every
  // trainer must hold ("" for the built-in models), model_layout: its weights' names and shapes.
  // dataset "own": each party trains on its own --data, whole unless partition says otherwise.
  std::string task = "classification";  // classification | regression
  std::string optimizer = "sgd";        // sgd (with momentum) | adam
  std::string model_sha256, model_layout;
  std::uint64_t evaluate_every = 1;  // evaluate every K-th committed model (and the last); 1: all
  MSGPACK_DEFINE_MAP(rounds, local_epochs, batch_size, lr, momentum, min_clients, fraction, deadline_ms, dataset, model,
                     partition, alpha, seed, train_limit, test_limit, initial_model_id, max_update_norm, aggregator,
                     trim_fraction, byzantine_f, server_lr, server_momentum, server_tau, proximal_mu, update_encoding,
                     clients_per_round, min_available, keep_models, command_encoding, task, optimizer, model_sha256,
                     model_layout, evaluate_every);
};

struct RoundStart {
  std::uint64_t round = 0;
  std::uint64_t term = 0;     // the aggregator's Raft term
  std::uint64_t attempt = 0;  // distinguishes re-runs within one term
  std::string base_model_id;
  std::vector<std::uint64_t> participants;  // trainers' node ids, ascending
  std::uint64_t aggregator = 0;
  std::uint64_t deadline_ms = 0;
  std::uint64_t start_ms = 0;  // wall clock (Unix ms) when proposed
  MSGPACK_DEFINE_MAP(round, term, attempt, base_model_id, participants, aggregator, deadline_ms, start_ms);
};

struct TrainerResult {
  std::uint64_t node = 0;
  std::uint64_t samples = 0;
  double train_loss = 0;
  double train_seconds = 0;
  MSGPACK_DEFINE_MAP(node, samples, train_loss, train_seconds);
};

// One party's evaluation of a committed model on its own test split (federated evaluation):
// loss (cross-entropy or MSE) and metric (accuracy, or MAE for regression) over `samples`.
struct PartyEval {
  std::uint64_t node = 0;
  std::uint64_t samples = 0;
  double loss = 0, metric = 0;
  MSGPACK_DEFINE_MAP(node, samples, loss, metric);
  friend bool operator==(const PartyEval&, const PartyEval&) = default;
};
// Sample-weighted over the parties: {loss, metric, samples}; samples 0 when none reported.
struct FederatedEval {
  double loss = 0, metric = 0;
  std::uint64_t samples = 0;
};
FederatedEval federated(const std::vector<PartyEval>& parties);
// "" when a party's figures can be recorded: samples 1 to 2^32, a finite non-negative loss, and a
// metric in 0-1 for classification (accuracy) or finite and non-negative for regression (MAE).
std::string check_party(const PartyEval& p, const std::string& task);

struct RoundRecord {
  std::uint64_t round = 0;
  std::uint64_t term = 0;
  std::uint64_t attempt = 0;
  std::string model_id;
  std::string base_model_id;
  // Server optimisers (fedavgm, fedadam, fedyogi): the state this round continued (that of the
  // previous commit; "" in round 1) and the one it leaves, a blob stored like the model.
  std::string base_state_id, server_state_id;
  std::uint64_t aggregator = 0;
  std::vector<std::uint64_t> participants;  // invited
  std::vector<TrainerResult> results;       // aggregated (a subset under partial aggregation)
  double train_loss = 0;                    // sample-weighted over results
  double test_loss = 0;      // cross-entropy, or MSE (regression)
  double test_accuracy = 0;  // classification
  double test_mae = 0;       // regression
  std::uint64_t test_samples = 0;
  bool untested = false;  // evaluated by an aggregator that holds no test split: no test metrics
  std::vector<PartyEval> parties;  // federated evaluation (a run on each party's own data)
  std::uint64_t start_ms = 0, end_ms = 0;
  // The test metrics are in (a metrics command applied). Commits written before metrics had their
  // own command carried them inline and lack this field: those count as evaluated.
  bool evaluated = false;
  std::uint64_t samples() const;
  MSGPACK_DEFINE_MAP(round, term, attempt, model_id, base_model_id, base_state_id, server_state_id, aggregator,
                     participants, results, train_loss, test_loss, test_accuracy, start_ms, end_ms, evaluated, test_mae,
                     test_samples, untested, parties);
};

struct RoundMetrics {
  std::uint64_t round = 0;
  std::string model_id;
  double test_loss = 0;
  double test_accuracy = 0;
  double test_mae = 0;
  std::uint64_t test_samples = 0;
  bool untested = false;
  std::vector<PartyEval> parties;
  MSGPACK_DEFINE_MAP(round, model_id, test_loss, test_accuracy, test_mae, test_samples, untested, parties);
};

enum class RoundEvent { kIgnored, kConfig, kStart, kCommit, kMetrics };

class RoundState {
 public:
  // {"fl": kind, "body": map}, or with `deflate` {"fl": kind, "zbody": the map deflated}
  // (command_deflate.h) where that is smaller. The configuration itself is never deflated.
  static std::string encode_config(const RoundConfig& c);
  static std::string encode_start(const RoundStart& s, bool deflate = false);
  static std::string encode_commit(const RoundRecord& r, bool deflate = false);
  static std::string encode_metrics(const RoundMetrics& m, bool deflate = false);
  // The body of `command`: its "body" map (*body may be null), or its "zbody" inflated into
  // *holder; an error names what is wrong with a zbody.
  static Status command_body(const msgpack::object& command, msgpack::object_handle* holder, const msgpack::object** body);
  // True when the committed configuration asks for deflated commands.
  bool deflates_commands() const { return config_ && config_->command_encoding == "deflate"; }
  // True for bytes that are an FL command (a map with key "fl"), whatever their validity.
  static bool is_command(const msgpack::object& o);

  // Applies an FL command; an undecodable one is an error, a well-formed one that does not fit
  // the state is kIgnored with `why` set.
  Status apply(const msgpack::object& command, RoundEvent* event, std::string* why);

  const std::optional<RoundConfig>& config() const { return config_; }
  const std::optional<RoundStart>& current() const { return current_; }
  const std::vector<RoundRecord>& committed() const { return committed_; }
  std::uint64_t last_round() const { return committed_.empty() ? 0 : committed_.back().round; }
  // The model the next round starts from: the last committed one, or the initial model.
  std::string last_model_id() const;
  // The server optimiser's state the next round continues ("" before the first commit and for
  // stateless aggregators).
  std::string last_server_state_id() const { return committed_.empty() ? "" : committed_.back().server_state_id; }
  bool done() const { return config_ && last_round() >= config_->rounds; }
  // The oldest committed round whose test metrics are not in yet (nullptr: none).
  const RoundRecord* first_unevaluated() const;
  // The committed record of `round`; null when it is not committed.
  const RoundRecord* committed_round(std::uint64_t round) const;
  // The newest committed round whose metrics are in (nullptr: none).
  const RoundRecord* last_evaluated() const;
  // Every round committed and evaluated: the run's results are complete.
  bool finished() const { return done() && !first_unevaluated(); }
  // The record of a metrics command just applied (kMetrics).
  const RoundRecord* last_metrics() const {
    return last_metrics_ < committed_.size() ? &committed_[last_metrics_] : nullptr;
  }

  void pack(msgpack::packer<msgpack::sbuffer>& p) const;
  Status restore(const msgpack::object& o);

 private:
  // One per command kind: the event it makes, or kIgnored with the reason in *why.
  RoundEvent apply_config(const msgpack::object& body, std::string* why);
  RoundEvent apply_start(const msgpack::object& body, std::string* why);
  RoundEvent apply_commit(const msgpack::object& body, std::string* why);
  RoundEvent apply_metrics(const msgpack::object& body, std::string* why);
  std::string state_mismatch(const RoundRecord& r) const;
  std::optional<RoundConfig> config_;
  std::optional<RoundStart> current_;
  std::vector<RoundRecord> committed_;
  std::size_t last_metrics_ = SIZE_MAX;  // index in committed_
};

// The blobs no peer needs any more under the run's keep_models: the models and server states of
// the commits before the last K (and the initial model once K rounds are committed), except any
// a kept commit still names and the models of rounds not evaluated yet. Empty when keep_models
// is 0.
std::vector<std::string> retired_blobs(const RoundState& rounds);
// The blobs the run still names and keeps: the initial model, every committed model and server
// state, and the current round's base, less retired_blobs. Anything else in a store (an update of
// an attempt that was run again, a model pushed for a round that was not committed) is no one's.
std::set<std::string> named_blobs(const RoundState& rounds);

// Unix time in milliseconds (round start/end stamps; only for reports, never for decisions
// that must agree).
std::uint64_t unix_ms();

}  // namespace fednode::fl

namespace fednode::fl {

// The trainers invited to a round: ceil(fraction * live) of the live candidates, or
// min(clients_per_round, live) when that is set, chosen by a shuffle seeded with (seed, round),
// returned ascending. Pure, so it is unit-tested.
std::vector<std::uint64_t> choose_participants(std::vector<std::uint64_t> live, double fraction, std::uint64_t seed,
                                               std::uint64_t round, std::uint64_t clients_per_round = 0);

}  // namespace fednode::fl
