#pragma once
// Command-line and config-file parsing for the fednode binary. Parsing is pure (no I/O besides
// reading the --config file) so that every bad-input case is unit-tested.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/common.h>

#include "fednode/util/peer_address.h"
#include "fednode/ctl/train_local.h"
#include "fednode/net/datagram_budget.h"
#include "fednode/raft/timing.h"

namespace fednode {

// Federated training. The leader that finds no run configuration in the log proposes one made
// of these values, so every peer should be started with the same ones; --dataset-dir,
// --torch-threads, --rotate-every and the fault injection stay local.
struct FlOptions {
  std::uint64_t rounds = 0;  // 0: no training, the group only serves the key-value store
  int local_epochs = 1;
  int batch_size = 32;
  double lr = 0.01;
  double momentum = 0.9;
  std::uint64_t min_clients = 1;
  double fraction = 1.0;
  double max_update_norm = 0;  // 0: no bound
  std::string aggregator = "fedavg";  // fl::aggregator_names()
  double trim_fraction = 0.1;
  std::uint64_t byzantine_f = 1;
  double server_lr = 0;  // 0: the server optimiser's default
  double server_momentum = 0.9;
  double server_tau = 1e-3;
  double proximal_mu = 0;  // FedProx (0: off)
  std::string update_encoding = "fp32";  // fp32 | fp16 | int8
  std::uint64_t clients_per_round = 0;
  std::uint64_t min_available = 0;
  std::uint64_t keep_models = 5;
  double deadline_s = 120;
  std::string dataset = "cifar10";  // cifar10 | fashion-mnist
  std::string dataset_dir;          // default: data/cifar-10-batches-bin or Debian's fashion-mnist
  std::string model;                // cifar10-cnn | fmnist-cnn | a TorchScript file; default: the data set's
  // This party's own data (fl/local_data.h): used whole, never shared, never sharded unless
  // --partition is given.
  std::string data, data_format, test_data, label_column;
  double test_fraction = 0;
  std::string task = "classification";  // classification | regression
  std::string optimizer = "sgd";        // sgd | adam
  std::uint64_t evaluate_every = 1;     // evaluate every K-th committed model (and the last)
  int image_size = 0, image_channels = 3;  // image folders (fl/local_data.h)
  std::string normalize;                // image folders: "MEANS...,STDS..." per channel
  std::string partition = "iid";    // iid | dirichlet (none: each party's own data whole)
  bool partition_given = false;
  double alpha = 0.5;
  std::uint64_t seed = 1;
  std::uint64_t train_limit = 0;
  std::uint64_t test_limit = 0;
  int torch_threads = 1;
  std::uint64_t rotate_every = 0;  // hand leadership to the next voter after every K rounds
  std::uint64_t invite_wait_ms = 5;  // a new leader's wait for the silent previous aggregator (local)
  // Fault injection for tests: "POINT:ROUND" (POINT = start|training|aggregating|pushed) makes
  // this node exit at once, like kill -9, when it reaches POINT of ROUND as aggregator, unless
  // crash_marker_dir already holds the marker of that point (so one crash per group).
  std::string attack = "none";  // tests and experiments only: this trainer corrupts its updates
  std::vector<std::string> crash_at;
  std::string crash_marker_dir;
};

// Everything a peer needs to run. Option names on the command line and keys in the TOML config
// file are the same (without the leading dashes).
struct NodeOptions {
  PeerAddress self;
  std::vector<PeerAddress> peers;  // the other voters; never contains self, never duplicates
  std::vector<std::string> peer_keys;  // their public keys (HOST:PORT=KEY), aligned with peers
  bool insecure = false;  // no keys: plaintext channels, ids from addresses (local experiments)
  std::string key_file;   // this node's key; default <data-dir>/node.key
  std::vector<std::string> operator_keys;  // may write, change membership, transfer (besides this node's key)
  bool plaintext_clients = false;  // zatt's plaintext client protocol from any address (not only loopback)
  std::string data_dir;            // default: fednode-data/<host>_<port>
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::string cluster_id = "fednode";
  std::uint16_t data_port = 0;  // TCP data plane; default self.port + 1000
  std::uint16_t metrics_port = 0;  // the live page, /api/status and Prometheus /metrics over HTTP; 0: off
  std::string metrics_bind = "127.0.0.1";  // loopback unless opened
  // Raft timing. The core counts ticks; the daemon ticks every tick_ms. --network sets the
  // defaults (raft/timing.h); these are lan's.
  raft::NetworkPreset network = raft::NetworkPreset::kLan;
  unsigned tick_ms = 10;
  unsigned heartbeat_ms = 100;
  // A follower that has not answered a heartbeat gets it again this often (0: never), so a lost
  // heartbeat costs it this long, not a heartbeat period (raft::Config::heartbeat_resend_ticks).
  unsigned heartbeat_resend_ms = 20;
  unsigned election_timeout_min_ms = 150;
  unsigned election_timeout_max_ms = 300;
  std::size_t max_datagram = 60 * 1024;  // bytes per UDP datagram on the peer channel, at most
  std::size_t datagram_target = net::kDefaultDatagramTarget;  // appends and chunks fit this (0: max_datagram)
  std::uint64_t snapshot_entries = 10000;  // compact the log past this many applied entries
  // Start empty (no bootstrap) and ask the peers named (seeds) to add this node as a learner until
  // it is a member; on SIGTERM ask to be removed first.
  bool join = false;
  std::vector<std::string> admit_keys;  // keys that may add themselves as learners (and leave)
  double evict_after_s = 0;  // as leader, remove learners silent this long (0: never)
  // Quotas against members that flood: blobs pushed or uploaded over the data plane, and the
  // replicated key-value map written by clients.
  std::uint64_t max_store_bytes = 16ull << 30;
  std::uint64_t min_free_bytes = 256ull << 20;
  std::uint64_t max_kv_bytes = 256ull << 20;
  std::uint64_t max_voters = 0;  // as leader, refuse to add voters past this (0: no cap)
  FlOptions fl;
};

// The parser decided the process should exit: --help, --version or an error. Errors are one
// line on stderr naming the bad value, with exit code 2.
struct CliExit {
  int code = 0;
  std::string out;
  std::string err;
};

using CliCommand = std::variant<NodeOptions, TrainLocalOptions, CliExit>;

inline constexpr int kExitUsage = 2;

// args excludes the program name.
// --normalize: `channels` means then `channels` positive standard deviations; nullopt otherwise.
std::optional<std::vector<float>> parse_normalize(const std::string& text, int channels);

CliCommand parse_cli(const std::vector<std::string>& args);

}  // namespace fednode
