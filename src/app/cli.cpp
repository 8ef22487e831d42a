#include "fednode/app/cli.h"

#include "fednode/fl/attack.h"
#include "fednode/fl/robust_aggregation.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fednode/crypto/node_key.h"
#include "fednode/fl/dataset.h"
#include "fednode/fl/local_data.h"
#include "fednode/raft/timing.h"
#include "fednode/util/logging.h"
#include "fednode/version.h"

namespace fednode {
namespace {

CliExit usage_error(const std::string& message) {
  return CliExit{kExitUsage, "", "fednode: " + message + " (see fednode --help)\n"};
}

// Checks that need more than one option at a time; returns "" when all is well.
bool built_in_model(const std::string& m) { return m == "cifar10-cnn" || m == "fmnist-cnn"; }

}  // namespace

std::optional<std::vector<float>> parse_normalize(const std::string& text, int channels) {
  std::vector<float> v;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      float x = std::stof(item, &used);
      if (used != item.size() || !std::isfinite(x)) return std::nullopt;
      v.push_back(x);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (v.size() != 2 * static_cast<std::size_t>(channels)) return std::nullopt;
  for (std::size_t i = v.size() / 2; i < v.size(); ++i) {
    if (!(v[i] > 0)) return std::nullopt;
  }
  return v;
}

namespace {

// --model, --data and what goes with them. The files themselves are read (and checked with one
// batch through the model) when the node prepares to train.
std::string check_model_and_data(const FlOptions& f) {
  std::error_code ec;
  if (!f.model.empty() && !built_in_model(f.model) && !std::filesystem::is_regular_file(f.model, ec)) {
    return "--model '" + f.model + "' is neither cifar10-cnn|fmnist-cnn nor a TorchScript file (" +
           (std::filesystem::exists(f.model, ec) ? "not a regular file" : "no such file") + ")";
  }
  if (!fl::parse_task(f.task)) return "--task '" + f.task + "' is not one of classification|regression";
  if (f.task == "regression" && (f.model.empty() || built_in_model(f.model))) {
    return "--task regression needs --model FILE, a TorchScript module that predicts the targets (the built-in models classify)";
  }
  if (!(f.test_fraction >= 0 && f.test_fraction < 1)) return "--test-fraction must be at least 0 and below 1";
  if (f.partition == "none" && f.data.empty()) return "--partition none (each party's data whole) needs --data";
  if (f.partition == "dirichlet" && f.task == "regression") return "--partition dirichlet splits by class: not with --task regression";
  if (f.data.empty()) {
    if (!f.data_format.empty() || !f.test_data.empty() || !f.label_column.empty() || f.test_fraction > 0) {
      return "--data-format, --test-data, --label-column and --test-fraction describe --data PATH, which is not given";
    }
    return "";
  }
  if (!std::filesystem::exists(f.data, ec)) return "--data '" + f.data + "': no such file or directory";
  if (!f.test_data.empty() && !std::filesystem::exists(f.test_data, ec)) return "--test-data '" + f.test_data + "': no such file";
  std::string format = f.data_format.empty() ? fl::detect_data_format(f.data) : f.data_format;
  if (format.empty()) {
    return "--data '" + f.data + "': cannot tell its format from the name; name it .npz or .csv or pass --data-format (" +
           fl::known_data_formats() + ")";
  }
  if (!f.normalize.empty() && !parse_normalize(f.normalize, f.image_channels)) {
    return "--normalize '" + f.normalize + "' is not " + std::to_string(f.image_channels) + " means then " +
           std::to_string(f.image_channels) + " positive standard deviations, comma-separated";
  }
  if ((f.model.empty() || built_in_model(f.model)) && (format == "npz" || format == "csv")) {
    return "--data '" + f.data + "' (" + format + ") needs --model FILE, a TorchScript module for its samples";
  }
  return "";
}

std::string check_node_options(const NodeOptions& o) {
  if (o.tick_ms < 1 || o.tick_ms > 1000) return "--tick-ms " + std::to_string(o.tick_ms) + " is out of range 1-1000";
  if (o.heartbeat_ms < o.tick_ms) return "--heartbeat-ms must be at least --tick-ms";
  if (o.heartbeat_resend_ms != 0 && (o.heartbeat_resend_ms < o.tick_ms || o.heartbeat_resend_ms >= o.heartbeat_ms)) {
    return "--heartbeat-resend-ms " + std::to_string(o.heartbeat_resend_ms) + " must be 0 or from --tick-ms " +
           std::to_string(o.tick_ms) + " to below --heartbeat-ms " + std::to_string(o.heartbeat_ms);
  }
  if (o.election_timeout_min_ms <= o.heartbeat_ms) {
    return "--election-timeout-min-ms " + std::to_string(o.election_timeout_min_ms) +
           " must exceed --heartbeat-ms " + std::to_string(o.heartbeat_ms);
  }
  if (o.election_timeout_max_ms <= o.election_timeout_min_ms) {
    return "--election-timeout-max-ms " + std::to_string(o.election_timeout_max_ms) +
           " must exceed --election-timeout-min-ms " + std::to_string(o.election_timeout_min_ms);
  }
  if (o.evict_after_s != 0 && o.evict_after_s * 1000 < 2.0 * o.election_timeout_max_ms) {
    return "--evict-after " + std::to_string(o.evict_after_s) + " s is shorter than two election timeouts (" +
           std::to_string(2 * o.election_timeout_max_ms) + " ms): live learners would be removed";
  }
  if (o.max_datagram < 1200 || o.max_datagram > 65507) {
    return "--max-datagram " + std::to_string(o.max_datagram) + " is out of range 1200-65507";
  }
  if (o.datagram_target != 0 && (o.datagram_target < 1200 || o.datagram_target > o.max_datagram)) {
    return "--datagram-target " + std::to_string(o.datagram_target) + " is out of range 1200-" +
           std::to_string(o.max_datagram) + " (--max-datagram), or 0: lower it with --max-datagram";
  }
  if (o.data_port != 0 && o.data_port == o.self.port) {
    return "--data-port " + std::to_string(o.data_port) + " equals the peer port";
  }
  if (o.metrics_port != 0 && (o.metrics_port == o.self.port || o.metrics_port == o.data_port ||
                              (o.data_port == 0 && o.metrics_port == o.self.port + 1000))) {
    return "--metrics-port " + std::to_string(o.metrics_port) + " is already the peer or data port";
  }
  for (const auto& spec : o.fl.crash_at) {
    auto colon = spec.find(':');
    std::string point = spec.substr(0, colon);
    bool number = colon != std::string::npos && colon + 1 < spec.size() &&
                  spec.find_first_not_of("0123456789", colon + 1) == std::string::npos;
    if (!number || (point != "start" && point != "training" && point != "aggregating" && point != "pushed")) {
      return "--crash-at '" + spec + "' is not POINT:ROUND with POINT start|training|aggregating|pushed";
    }
  }
  if (!o.fl.crash_at.empty() && o.fl.crash_marker_dir.empty()) return "--crash-at needs --crash-marker-dir";
  if (!fl::parse_attack(o.fl.attack)) return "--attack '" + o.fl.attack + "' is not one of none|sign-flip|noise|constant";
  auto aggregator = fl::parse_aggregator(o.fl.aggregator);
  if (!aggregator) return "--aggregator '" + o.fl.aggregator + "' is not one of " + fl::aggregator_names();
  if ((*aggregator == fl::AggregatorKind::kKrum || *aggregator == fl::AggregatorKind::kMultiKrum) &&
      o.fl.min_clients < 2 * o.fl.byzantine_f + 3) {
    return "--aggregator " + o.fl.aggregator + " with --byzantine-f " + std::to_string(o.fl.byzantine_f) +
           " needs --min-clients of at least " + std::to_string(2 * o.fl.byzantine_f + 3);
  }
  if (auto problem = check_model_and_data(o.fl); !problem.empty()) return problem;
  if (o.data_port == 0 && o.self.port > 65535 - 1000) {
    return "peer port " + std::to_string(o.self.port) +
           " leaves no room for the default data port (port + 1000); set --data-port";
  }
  return "";
}

// CLI11 says "INI was not able to parse roundz" of a config file's unknown key: name the key, the
// file and the line instead.
std::string config_error_text(const std::string& what, const std::vector<std::string>& args) {
  const std::string prefix = "INI was not able to parse ";
  if (what.rfind(prefix, 0) != 0) return what;
  std::string key = what.substr(prefix.size()), file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) file = args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) file = args[i].substr(9);
  }
  std::string name = key, where = file.empty() ? "the config file" : file;
  if (auto dot = key.find('.'); dot != std::string::npos) name = key.substr(0, dot);
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos) continue;
    bool section = line[a] == '[' && line.compare(a + 1, name.size(), name) == 0;
    bool assignment = line.compare(a, name.size(), name) == 0 &&
                      line.find_first_not_of(" \t", a + name.size()) != std::string::npos &&
                      line[line.find_first_not_of(" \t", a + name.size())] == '=';
    if (section) return "section [" + name + "] in " + where + " (line " + std::to_string(n) + "): keys are not in sections";
    if (assignment) {
      return "unknown key '" + name + "' in " + where + " (line " + std::to_string(n) +
             "): keys are the long option names without dashes";
    }
  }
  return "unknown key '" + name + "' in " + where + ": keys are the long option names without dashes";
}

void add_local_data_options(CLI::App& app, FlOptions& fl, const std::string& group) {
  app.add_option("--data", fl.data, "This party's own data, used whole: FILE.npz, FILE.csv, or a CIFAR-10 / Fashion-MNIST directory")
      ->group(group);
  app.add_option("--data-format", fl.data_format, "npz | csv | cifar10 | fashion-mnist (default: from the --data path)")
      ->check(CLI::IsMember({"npz", "csv", "imagefolder", "cifar10", "fashion-mnist"}))->group(group);
  app.add_option("--image-size", fl.image_size, "Image folders: resize every image to N x N (default: all must share one size)")
      ->check(CLI::Range(0, 4096))->group(group);
  app.add_option("--image-channels", fl.image_channels, "Image folders: decode to 1 (grey) or 3 (RGB) channels")
      ->check(CLI::IsMember({1, 3}))->group(group)->capture_default_str();
  app.add_option("--normalize", fl.normalize,
                 "Image folders: per-channel means then standard deviations of pixel/255, e.g. 0.5,0.5,0.5,0.25,0.25,0.25 "
                 "(default: 0 and 1)")
      ->group(group);
  app.add_option("--test-data", fl.test_data, "This party's test set, in the --data format (else x_test/y_test of an .npz)")->group(group);
  app.add_option("--label-column", fl.label_column, "CSV: the label (or target) column (default: the last)")->group(group);
  app.add_option("--test-fraction", fl.test_fraction, "Without a test set: keep this share of --data aside for testing")
      ->group(group)->capture_default_str();
  app.add_option("--task", fl.task, "classification (cross-entropy, accuracy) | regression (MSE, MAE)")
      ->check(CLI::IsMember({"classification", "regression"}))->group(group)->capture_default_str();
  app.add_option("--optimizer", fl.optimizer, "Local training: sgd (with --momentum) | adam")
      ->check(CLI::IsMember({"sgd", "adam"}))->group(group)->capture_default_str();
  app.add_option("--evaluate-every", fl.evaluate_every,
                 "Evaluate every K-th committed model (and the last): the aggregator's test split and every party's own")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000}))->group(group)->capture_default_str();
}

// What the command line names before it is checked: addresses and ports as typed.
struct RawNodeOptions {
  std::string self_text;
  std::vector<std::string> peer_texts;
  std::string log_level = "info";
  unsigned data_port = 0, metrics_port = 0;
  std::string network = "lan";
};

// The node's own options: identity, keys, ports, Raft timing, membership and bounds.
void add_node_options(CLI::App& app, NodeOptions& node, RawNodeOptions& raw) {
  app.add_option("self", raw.self_text, "This peer's HOST:PORT (UDP for Raft, TCP for clients)");
  app.add_option("peers", raw.peer_texts, "The other peers' HOST:PORT=PUBLIC_KEY (HOST:PORT alone with --insecure)");
  app.add_flag("--insecure", node.insecure,
               "No node keys: plaintext channels and ids from addresses; for local experiments only");
  app.add_option("--key-file", node.key_file, "This node's key (fednode keygen); default DATA_DIR/node.key");
  app.add_option("--operator-key", node.operator_keys,
                 "A public key that may write, change membership and transfer leadership (repeatable)");
  app.add_flag("--plaintext-clients", node.plaintext_clients,
               "Serve zatt's plaintext client protocol from any address (default: loopback only)");
  app.add_option("--data-dir", node.data_dir, "Directory for the log, snapshots and models");
  app.add_option("--log-level", raw.log_level, "trace|debug|info|warn|error|critical|off")
      ->capture_default_str();
  app.add_option("--cluster-id", node.cluster_id, "Datagrams of other clusters are dropped")
      ->capture_default_str();
  app.add_option("--data-port", raw.data_port, "TCP data-plane port (default: peer port + 1000)");
  app.add_option("--metrics-port", raw.metrics_port,
                 "Serve the live page (/), its JSON (/api/status) and Prometheus metrics (/metrics) over HTTP (0: off)");
  app.add_option("--metrics-bind", node.metrics_bind,
                 "Address the metrics port listens on (0.0.0.0 opens it to the network)")
      ->capture_default_str();
  app.add_option("--network", raw.network,
                 "Raft timing for round trips of a few ms (lan: election timeout 150-300 ms) or up to 200 ms and "
                 "lossy (wan: 1,000-2,000 ms); the timing options below override it")
      ->capture_default_str();
  app.add_option("--tick-ms", node.tick_ms, "Raft tick period")->capture_default_str();
  app.add_option("--heartbeat-ms", node.heartbeat_ms, "Leader heartbeat period")
      ->capture_default_str();
  app.add_option("--heartbeat-resend-ms", node.heartbeat_resend_ms,
                 "Resend an unanswered heartbeat this often within the period (0: never)")
      ->capture_default_str();
  app.add_option("--election-timeout-min-ms", node.election_timeout_min_ms)->capture_default_str();
  app.add_option("--election-timeout-max-ms", node.election_timeout_max_ms)->capture_default_str();
  app.add_option("--max-datagram", node.max_datagram, "Largest UDP datagram sent to a peer")
      ->capture_default_str();
  app.add_option("--datagram-target", node.datagram_target,
                 "Appends and snapshot chunks are cut to fit datagrams of this size, unfragmented on a 1,500-byte "
                 "MTU; an entry larger goes whole, up to --max-datagram (0: fill --max-datagram)")
      ->capture_default_str();
  app.add_option("--snapshot-entries", node.snapshot_entries, "Compact the log after this many applied entries")
      ->check(CLI::Range(std::uint64_t{16}, std::uint64_t{100000000}))->capture_default_str();
  app.add_flag("--join", node.join,
               "Start empty and ask the peers named (seeds: any member) to add this node as a learner, until it is one; "
               "SIGTERM asks to be removed first");
  app.add_option("--admit-key", node.admit_keys,
                 "A public key that may add itself as a learner (fednode SELF --join SEED) and remove itself (repeatable)");
  app.add_option("--evict-after", node.evict_after_s, "As leader, remove learners that have not answered for this many seconds (0: never)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  app.add_option("--max-store-bytes", node.max_store_bytes,
                 "Model store size past which blobs pushed or uploaded by peers are refused (0: no bound)")
      ->capture_default_str();
  app.add_option("--min-free-bytes", node.min_free_bytes,
                 "Free disk space under the data dir below which the node takes no writes, uploads or log entries until it returns (0: no bound)")
      ->capture_default_str();
  app.add_option("--max-voters", node.max_voters, "As leader, refuse to add voters beyond this many: later peers join as learners (0: no cap)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1000}))->capture_default_str();
  app.add_option("--max-kv-bytes", node.max_kv_bytes, "Bytes of keys and values clients may store (0: no bound)")
      ->capture_default_str();
}

// The federated run: rounds, local training, aggregation, data and model. Returns --partition,
// whose presence decides a default later.
CLI::Option* add_training_options(CLI::App& app, FlOptions& fl) {
  const char* group = "Federated training";
  app.add_option("--rounds", fl.rounds, "Rounds to train (0: no training)")->group(group)->capture_default_str();
  app.add_option("--local-epochs", fl.local_epochs)->check(CLI::Range(1, 10000))->group(group)->capture_default_str();
  app.add_option("--batch-size", fl.batch_size)->check(CLI::Range(1, 65536))->group(group)->capture_default_str();
  app.add_option("--lr", fl.lr)->check(CLI::PositiveNumber)->group(group)->capture_default_str();
  app.add_option("--momentum", fl.momentum)->check(CLI::Range(0.0, 1.0))->group(group)->capture_default_str();
  app.add_option("--min-clients", fl.min_clients, "Fewest updates a round may aggregate")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000}))->group(group)->capture_default_str();
  app.add_option("--aggregator", fl.aggregator, fl::aggregator_names())->group(group)->capture_default_str();
  app.add_option("--server-lr", fl.server_lr, "fedavgm, fedadam, fedyogi: server learning rate (0: 1 for fedavgm, 0.01 for the others)")
      ->check(CLI::Range(0.0, 100.0))->group(group)->capture_default_str();
  app.add_option("--server-momentum", fl.server_momentum, "fedavgm: server momentum")
      ->check(CLI::Range(0.0, 0.999))->group(group)->capture_default_str();
  app.add_option("--server-tau", fl.server_tau, "fedadam, fedyogi: adaptivity (added to the root of the second moment)")
      ->check(CLI::Range(1e-12, 1.0))->group(group)->capture_default_str();
  app.add_option("--update-encoding", fl.update_encoding, "How trainers send updates: fp32 | fp16 | int8 (the change from the base, quantised)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}))->group(group)->capture_default_str();
  app.add_option("--proximal-mu", fl.proximal_mu, "FedProx: trainers add mu/2 |w - base|^2 to their loss (0: off)")
      ->check(CLI::Range(0.0, 100.0))->group(group)->capture_default_str();
  app.add_option("--trim-fraction", fl.trim_fraction, "trimmed-mean: share of values cut from each end, per coordinate")
      ->check(CLI::Range(0.0, 0.49))->group(group)->capture_default_str();
  app.add_option("--byzantine-f", fl.byzantine_f, "krum, multi-krum: bad updates to tolerate")
      ->group(group)->capture_default_str();
  app.add_option("--attack", fl.attack,
                 "TESTS AND EXPERIMENTS ONLY: this trainer corrupts its updates (none|sign-flip|noise|constant)")
      ->group(group)->capture_default_str();
  app.add_option("--max-update-norm", fl.max_update_norm,
                 "Refuse updates whose change from the base model exceeds this times the base's norm (0: off)")
      ->check(CLI::Range(0.0, 1e6))->group(group)->capture_default_str();
  app.add_option("--fraction", fl.fraction, "Share of the live trainers invited each round")
      ->check(CLI::Range(0.01, 1.0))->group(group)->capture_default_str();
  app.add_option("--clients-per-round", fl.clients_per_round, "Invite this many of the live trainers each round (0: --fraction decides)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{100000}))->group(group)->capture_default_str();
  app.add_option("--keep-models", fl.keep_models, "Peers keep the models of the last K committed rounds (0: all)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1000000}))->group(group)->capture_default_str();
  app.add_option("--min-available", fl.min_available, "Start a round only once this many trainers are live")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{100000}))->group(group)->capture_default_str();
  app.add_option("--deadline-s", fl.deadline_s, "Seconds the aggregator waits for updates")
      ->check(CLI::Range(0.1, 86400.0))->group(group)->capture_default_str();
  app.add_option("--dataset", fl.dataset, "cifar10 | fashion-mnist")
      ->check(CLI::IsMember({"cifar10", "fashion-mnist"}))->group(group)->capture_default_str();
  app.add_option("--dataset-dir", fl.dataset_dir, "Default: data/cifar-10-batches-bin, or /usr/share/datasets/fashion-mnist")
      ->group(group);
  app.add_option("--model", fl.model, "cifar10-cnn | fmnist-cnn | FILE.pt, a TorchScript module (default: the data set's CNN)")
      ->group(group);
  add_local_data_options(app, fl, group);
  CLI::Option* partition = app.add_option("--partition", fl.partition,
                                   "iid | dirichlet | none (default: iid; with --data none, each party's data whole)")
      ->check(CLI::IsMember({"iid", "dirichlet", "none"}))->group(group)->capture_default_str();
  app.add_option("--alpha", fl.alpha, "Dirichlet concentration")->check(CLI::PositiveNumber)->group(group)->capture_default_str();
  app.add_option("--seed", fl.seed, "Initial model and partition seed")->group(group)->capture_default_str();
  app.add_option("--train-limit", fl.train_limit, "Use only the first N training samples (0: all)")->group(group)->capture_default_str();
  app.add_option("--test-limit", fl.test_limit, "Evaluate on the first N test samples (0: all)")->group(group)->capture_default_str();
  app.add_option("--torch-threads", fl.torch_threads, "libtorch threads of this node")
      ->check(CLI::Range(1, 256))->group(group)->capture_default_str();
  app.add_option("--invite-wait-ms", fl.invite_wait_ms,
                 "A new leader waits this long (or as long as its majority took to answer) for the previous aggregator, "
                 "when it has answered nothing, before inviting the others to a round")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{60000}))->group(group)->capture_default_str();
  app.add_option("--rotate-every", fl.rotate_every, "Hand leadership to the next voter after every K committed rounds (0: never)")
      ->group(group)->capture_default_str();
  app.add_option("--crash-at", fl.crash_at, "Test fault injection: exit like kill -9 at POINT:ROUND (start|training|aggregating|pushed)")
      ->group(group);
  app.add_option("--crash-marker-dir", fl.crash_marker_dir, "Test fault injection: one crash per marker in this directory")
      ->group(group);
  return partition;
}

CLI::App* add_train_local_command(CLI::App& app, TrainLocalOptions& train) {
  CLI::App* train_cmd = app.add_subcommand("train-local", "Train centrally on one machine and print test accuracy per epoch (the baseline)");
  train_cmd->add_option("--dataset", train.dataset, "cifar10 | fashion-mnist")
      ->check(CLI::IsMember({"cifar10", "fashion-mnist"}))->capture_default_str();
  train_cmd->add_option("--dataset-dir", train.dataset_dir,
                        "Default: data/cifar-10-batches-bin, or /usr/share/datasets/fashion-mnist");
  train_cmd->add_option("--model", train.model, "cifar10-cnn | fmnist-cnn | FILE.pt, a TorchScript module (default: the data set's CNN)");
  train_cmd->add_option("--epochs", train.epochs)->check(CLI::Range(1, 10000))->capture_default_str();
  train_cmd->add_option("--batch-size", train.batch_size)->check(CLI::Range(1, 65536))->capture_default_str();
  train_cmd->add_option("--lr", train.lr)->check(CLI::PositiveNumber)->capture_default_str();
  train_cmd->add_option("--momentum", train.momentum)->check(CLI::Range(0.0, 1.0))->capture_default_str();
  train_cmd->add_option("--weight-decay", train.weight_decay)->check(CLI::Range(0.0, 1.0))->capture_default_str();
  train_cmd->add_flag("--augment", train.augment, "Random crop and flip (CIFAR-10)");
  train_cmd->add_option("--threads", train.threads, "libtorch threads")->check(CLI::Range(1, 256))->capture_default_str();
  train_cmd->add_option("--seed", train.seed)->capture_default_str();
  train_cmd->add_option("--save", train.save, "Write the final model as a PyTorch state dict");
  return train_cmd;
}

// The --network preset's value for each Raft timing option not given on the command line or in
// the config file.
std::string apply_network_preset(const CLI::App& app, const std::string& network, NodeOptions* node) {
  auto preset = raft::parse_network_preset(network);
  if (!preset) return "--network '" + network + "' is not one of lan|wan";
  raft::TimingMs t = raft::timing_preset(*preset);
  auto take = [&](const char* name, unsigned value, unsigned* field) {
    if (app.get_option(name)->count() == 0) *field = value;
  };
  take("--tick-ms", t.tick, &node->tick_ms);
  take("--heartbeat-ms", t.heartbeat, &node->heartbeat_ms);
  take("--heartbeat-resend-ms", t.heartbeat_resend, &node->heartbeat_resend_ms);
  take("--election-timeout-min-ms", t.election_min, &node->election_timeout_min_ms);
  take("--election-timeout-max-ms", t.election_max, &node->election_timeout_max_ms);
  node->network = *preset;
  return "";
}

// Checks what the options name and fills in the defaults that depend on others.
CliCommand finish_node_options(NodeOptions node, const RawNodeOptions& raw, bool partition_given) {
  if (raw.self_text.empty()) return usage_error("self is required: fednode SELF_HOST:PORT [PEER_HOST:PORT ...]");
  std::string why;
  auto self = parse_peer_address(raw.self_text, &why);
  if (!self) return usage_error(why);
  node.self = *self;
  std::set<PeerAddress> seen;
  for (const auto& spec : raw.peer_texts) {
    auto eq = spec.find('=');
    std::string text = spec.substr(0, eq), key = eq == std::string::npos ? "" : spec.substr(eq + 1);
    auto peer = parse_peer_address(text, &why);
    if (!peer) return usage_error(why);
    if (*peer == node.self) {
      return usage_error("peer " + text + " is this node's own address (self listed twice)");
    }
    if (!seen.insert(*peer).second) return usage_error("peer " + text + " is listed twice");
    if (key.rfind("EXAMPLE", 0) == 0) {
      return usage_error("peer " + text + ": its key is the placeholder of the sample config; put the key "
                         "`fednode keygen` printed on that machine");
    }
    if (!key.empty() && !crypto::PublicKey::parse(key, &why)) return usage_error("peer " + text + ": " + why);
    if (key.empty() && !node.insecure) {
      return usage_error("peer " + text + " has no public key: give it as HOST:PORT=KEY (`fednode keygen` prints a "
                         "node's key), or run every peer with --insecure");
    }
    node.peers.push_back(*peer);
    node.peer_keys.push_back(node.insecure ? "" : key);
  }
  for (const auto& key : node.operator_keys) {
    if (!crypto::PublicKey::parse(key, &why)) return usage_error("--operator-key: " + why);
  }
  for (const auto& key : node.admit_keys) {
    if (!crypto::PublicKey::parse(key, &why)) return usage_error("--admit-key: " + why);
  }
  if (node.join && node.peers.empty()) {
    return usage_error("--join needs at least one member to ask: fednode SELF --join SEED_HOST:PORT[=KEY] ...");
  }
  auto level = parse_log_level(raw.log_level);
  if (!level) {
    return usage_error("--log-level '" + raw.log_level +
                       "' is not one of trace|debug|info|warn|error|critical|off");
  }
  node.log_level = *level;
  if (raw.data_port > 65535) return usage_error("--data-port " + std::to_string(raw.data_port) + " is out of range 1-65535");
  node.data_port = static_cast<std::uint16_t>(raw.data_port);
  if (raw.metrics_port > 65535) return usage_error("--metrics-port " + std::to_string(raw.metrics_port) + " is out of range 1-65535");
  node.metrics_port = static_cast<std::uint16_t>(raw.metrics_port);
  {
    unsigned char addr[16];
    if (::inet_pton(AF_INET, node.metrics_bind.c_str(), addr) != 1) {  // the listeners are IPv4 (tcp_listener.cpp)
      return usage_error("--metrics-bind '" + node.metrics_bind + "' is not an IPv4 address");
    }
  }
  if (auto problem = check_node_options(node); !problem.empty()) return usage_error(problem);
  if (node.data_port == 0) node.data_port = static_cast<std::uint16_t>(node.self.port + 1000);
  node.fl.partition_given = partition_given;
  if (!node.fl.data.empty()) {
    node.fl.dataset = "own";
    if (!node.fl.partition_given) node.fl.partition = "none";
    std::string format = node.fl.data_format.empty() ? fl::detect_data_format(node.fl.data) : node.fl.data_format;
    if (node.fl.model.empty()) node.fl.model = format == "fashion-mnist" || node.fl.image_channels == 1 ? "fmnist-cnn" : "cifar10-cnn";
  }
  if (node.fl.model.empty()) node.fl.model = node.fl.dataset == "cifar10" ? "cifar10-cnn" : "fmnist-cnn";
  if (node.data_dir.empty()) {
    std::string host = node.self.host;
    for (char& c : host) {
      if (c == ':') c = '_';
    }
    node.data_dir = "fednode-data/" + host + "_" + std::to_string(node.self.port);
  }
  if (node.key_file.empty()) node.key_file = node.data_dir + "/node.key";
  return node;
}

}  // namespace

CliCommand parse_cli(const std::vector<std::string>& args) {
  NodeOptions node;
  RawNodeOptions raw;
  CLI::App app{"fednode: federated learning on a Raft group. Run one per machine.", "fednode"};
  app.set_config("--config", "", "Read options from a TOML file (keys are the long option names)");
  app.allow_config_extras(false);
  app.footer("Other commands:\n"
             "  fednode keygen --out DIR        make this node's key (DIR/node.key) and print its public key\n"
             "  fednode ctl HOST:PORT COMMAND    a client: get, set, status, rounds, watch, export-model, add-peer, ... (fednode ctl --help)\n"
             "  fednode train-local ...          train centrally on one machine, the baseline (fednode train-local --help)");
  app.set_version_flag("--version", std::string("fednode ") + kVersion);
  add_node_options(app, node, raw);
  CLI::Option* partition = add_training_options(app, node.fl);
  TrainLocalOptions train;
  CLI::App* train_cmd = add_train_local_command(app, train);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return CliExit{0, app.help(), ""};
  } catch (const CLI::CallForVersion&) {
    return CliExit{0, std::string("fednode ") + kVersion + "\n", ""};
  } catch (const CLI::ParseError& e) {
    return usage_error(config_error_text(e.what(), args));
  }
  if (train_cmd->parsed()) {
    std::error_code ec;
    if (!train.model.empty() && !built_in_model(train.model) && !std::filesystem::is_regular_file(train.model, ec)) {
      return usage_error("--model '" + train.model + "' is neither cifar10-cnn|fmnist-cnn nor a TorchScript file");
    }
    if (train.dataset_dir.empty()) train.dataset_dir = fl::default_dataset_dir(train.dataset);
    return train;
  }
  if (auto problem = apply_network_preset(app, raw.network, &node); !problem.empty()) return usage_error(problem);
  return finish_node_options(std::move(node), raw, partition->count() > 0);
}

}  // namespace fednode
