#include "fednode/app/cli.h"
#include "fednode/ctl/ctl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fednode {
namespace {

// Real public keys (fednode keygen), for peers in the secure default form HOST:PORT=KEY.
const std::string kKeyA = "-0bIvBjKC2L9RKyd12ewO2nR6Ddn2NPrPWmESSVwWig";
const std::string kKeyB = "2rNEUKV_BNJguri22c9bYVOtQB48MDcypY-qtHeGcic";

NodeOptions parse_ok(const std::vector<std::string>& args) {
  auto command = parse_cli(args);
  if (auto* exit = std::get_if<CliExit>(&command)) {
    ADD_FAILURE() << "unexpected exit " << exit->code << ": " << exit->err;
    return {};
  }
  return std::get<NodeOptions>(command);
}

// Asserts a usage error: exit code 2, exactly one line on stderr, naming `needle`.
void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  auto command = parse_cli(args);
  ASSERT_TRUE(std::holds_alternative<CliExit>(command)) << "accepted bad input";
  const auto& exit = std::get<CliExit>(command);
  EXPECT_EQ(exit.code, kExitUsage);
  EXPECT_TRUE(exit.out.empty());
  ASSERT_FALSE(exit.err.empty());
  EXPECT_EQ(exit.err.find('\n'), exit.err.size() - 1) << "more than one line: " << exit.err;
  EXPECT_NE(exit.err.find(needle), std::string::npos) << exit.err << " does not name " << needle;
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("fednode-cli-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".toml");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(Cli, SelfAndPeersInTheSeedsForm) {
  auto o = parse_ok({"10.0.0.1:5000", "10.0.0.2:5000=" + kKeyA, "host-3:5000=" + kKeyB});
  EXPECT_EQ(o.self.to_string(), "10.0.0.1:5000");
  ASSERT_EQ(o.peers.size(), 2u);
  EXPECT_EQ(o.peers[1].to_string(), "host-3:5000");
  EXPECT_EQ(o.peer_keys, (std::vector<std::string>{kKeyA, kKeyB}));
  EXPECT_FALSE(o.insecure);
  EXPECT_EQ(o.key_file, "fednode-data/10.0.0.1_5000/node.key");
  EXPECT_EQ(o.data_port, 6000);
  EXPECT_EQ(o.data_dir, "fednode-data/10.0.0.1_5000");
  EXPECT_EQ(o.log_level, spdlog::level::info);
}

TEST(Cli, SecureByDefaultAPeerNeedsItsKey) {
  expect_usage_error({"10.0.0.1:5000", "10.0.0.2:5000"}, "10.0.0.2:5000 has no public key");
  expect_usage_error({"10.0.0.1:5000", "10.0.0.2:5000=not-a-key"}, "not a node public key");
  expect_usage_error({"10.0.0.1:5000", "10.0.0.2:5000="}, "has no public key");
}

TEST(Cli, InsecureModeTakesAddressesAloneAndIgnoresKeys) {
  auto o = parse_ok({"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000=" + kKeyA, "--insecure"});
  EXPECT_TRUE(o.insecure);
  ASSERT_EQ(o.peers.size(), 2u);
  EXPECT_EQ(o.peer_keys, (std::vector<std::string>{"", ""}));
  auto k = parse_ok({"10.0.0.1:5000", "--key-file", "/etc/fednode/node.key"});
  EXPECT_EQ(k.key_file, "/etc/fednode/node.key");
}

TEST(Cli, SinglePeerClusterIsAllowed) {
  auto o = parse_ok({"127.0.0.1:5000"});
  EXPECT_TRUE(o.peers.empty());
}

// --join names its seeds as peers; admitted keys are checked; eviction needs time to be fair.
TEST(Cli, JoinAdmitKeysAndEviction) {
  auto o = parse_ok({"10.0.0.9:5000", "--join", "10.0.0.1:5000=" + kKeyA, "--admit-key", kKeyB, "--admit-key", kKeyA,
                     "--evict-after", "30"});
  EXPECT_TRUE(o.join);
  ASSERT_EQ(o.peers.size(), 1u);
  EXPECT_EQ(o.peers[0].to_string(), "10.0.0.1:5000");
  EXPECT_EQ(o.admit_keys, (std::vector<std::string>{kKeyB, kKeyA}));
  EXPECT_DOUBLE_EQ(o.evict_after_s, 30);
  expect_usage_error({"10.0.0.9:5000", "--join"}, "--join needs at least one member to ask");
  expect_usage_error({"10.0.0.9:5000", "--insecure", "--admit-key", "nope"}, "--admit-key");
  expect_usage_error({"10.0.0.9:5000", "--insecure", "--evict-after", "0.4"}, "shorter than two election timeouts");
  expect_usage_error({"10.0.0.9:5000", "--insecure", "--evict-after", "-1"}, "--evict-after");
}

// A key may start with '-' (keys made before keygen stopped drawing them): it is taken as a
// value after an option that takes one, and ctl reads --option=VALUE too.
TEST(Cli, AKeyStartingWithADashIsAValue) {
  ASSERT_EQ(kKeyA.front(), '-');
  auto o = parse_ok({"10.0.0.9:5000", "10.0.0.1:5000=" + kKeyB, "--operator-key", kKeyA, "--admit-key=" + kKeyA});
  EXPECT_EQ(o.operator_keys, std::vector<std::string>{kKeyA});
  EXPECT_EQ(o.admit_keys, std::vector<std::string>{kKeyA});
  EXPECT_EQ(split_option_values({"--server-key=" + kKeyA, "h:1", "add-peer", "h:2", "--key=" + kKeyA, "set", "a=b"}),
            (std::vector<std::string>{"--server-key", kKeyA, "h:1", "add-peer", "h:2", "--key", kKeyA, "set", "a=b"}));
}

TEST(Cli, MetricsBindIsAnIpv4Address) {
  EXPECT_EQ(parse_ok({"10.0.0.9:5000", "--insecure"}).metrics_bind, "127.0.0.1");
  EXPECT_EQ(parse_ok({"10.0.0.9:5000", "--insecure", "--metrics-bind", "0.0.0.0"}).metrics_bind, "0.0.0.0");
  expect_usage_error({"10.0.0.9:5000", "--insecure", "--metrics-bind", "node-1.lab"}, "--metrics-bind");
  expect_usage_error({"10.0.0.9:5000", "--insecure", "--metrics-bind", "::1"}, "not an IPv4 address");
}

TEST(Cli, ExplicitOptions) {
  auto o = parse_ok({"127.0.0.1:5000", "--data-dir", "/tmp/x", "--log-level", "debug",
                     "--data-port", "7000", "--max-datagram", "1400", "127.0.0.1:5001=" + kKeyA});
  EXPECT_EQ(o.data_dir, "/tmp/x");
  EXPECT_EQ(o.log_level, spdlog::level::debug);
  EXPECT_EQ(o.data_port, 7000);
  EXPECT_EQ(o.max_datagram, 1400u);
  ASSERT_EQ(o.peers.size(), 1u);
}

TEST(Cli, RobustAggregatorsAndQuotas) {
  auto o = parse_ok({"127.0.0.1:5000", "--insecure", "--aggregator", "multi-krum", "--byzantine-f", "1",
                     "--min-clients", "5", "--max-kv-bytes", "1000", "--max-store-bytes", "0"});
  EXPECT_EQ(o.fl.aggregator, "multi-krum");
  EXPECT_EQ(o.fl.byzantine_f, 1u);
  EXPECT_EQ(o.max_kv_bytes, 1000u);
  EXPECT_EQ(o.max_store_bytes, 0u);
  expect_usage_error({"127.0.0.1:5000", "--insecure", "--aggregator", "bulyan"}, "'bulyan'");
  expect_usage_error({"127.0.0.1:5000", "--insecure", "--aggregator", "krum", "--byzantine-f", "2"},
                     "--min-clients of at least 7");
  expect_usage_error({"127.0.0.1:5000", "--insecure", "--trim-fraction", "0.5"}, "--trim-fraction");
  expect_usage_error({"127.0.0.1:5000", "--insecure", "--attack", "backdoor"}, "'backdoor'");
}

TEST(Cli, HelpAndVersionExitZero) {
  auto help = std::get<CliExit>(parse_cli({"--help"}));
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--data-dir"), std::string::npos);
  auto version = std::get<CliExit>(parse_cli({"--version"}));
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out.rfind("fednode ", 0), 0u);
}

TEST(Cli, MissingSelfIsAnError) { expect_usage_error({}, "self"); }
TEST(Cli, BadHostIsNamed) { expect_usage_error({"300.1.1.1:5000"}, "300.1.1.1:5000"); }
TEST(Cli, BadPeerHostIsNamed) {
  expect_usage_error({"127.0.0.1:5000", "no_such host:5001"}, "no_such host:5001");
}
TEST(Cli, PortOutOfRangeIsNamed) { expect_usage_error({"127.0.0.1:70000"}, "70000"); }
TEST(Cli, PeerPortZeroIsNamed) { expect_usage_error({"127.0.0.1:5000", "127.0.0.1:0"}, "127.0.0.1:0"); }
TEST(Cli, SelfListedTwiceIsAnError) {
  expect_usage_error({"127.0.0.1:5000", "127.0.0.1:5001=" + kKeyA, "127.0.0.1:5000=" + kKeyB}, "self listed twice");
}
TEST(Cli, SelfListedTwiceIgnoresHostCase) {
  expect_usage_error({"Node1:5000", "node1:5000"}, "self listed twice");
}
TEST(Cli, DuplicatePeerIsAnError) {
  expect_usage_error({"127.0.0.1:5000", "127.0.0.1:5001=" + kKeyA, "127.0.0.1:5001=" + kKeyB},
                     "127.0.0.1:5001 is listed twice");
}
TEST(Cli, UnknownFlagIsNamed) { expect_usage_error({"127.0.0.1:5000", "--frobnicate"}, "--frobnicate"); }
TEST(Cli, BadLogLevelIsNamed) {
  expect_usage_error({"127.0.0.1:5000", "--log-level", "loud"}, "loud");
}
TEST(Cli, NonNumericOptionIsNamed) {
  expect_usage_error({"127.0.0.1:5000", "--tick-ms", "fast"}, "fast");
}
TEST(Cli, DataPortOutOfRange) {
  expect_usage_error({"127.0.0.1:5000", "--data-port", "70000"}, "70000");
}
TEST(Cli, DataPortEqualToPeerPort) {
  expect_usage_error({"127.0.0.1:5000", "--data-port", "5000"}, "--data-port 5000");
}
TEST(Cli, DefaultDataPortMustFit) { expect_usage_error({"127.0.0.1:65000"}, "--data-port"); }
TEST(Cli, ElectionTimeoutsMustBeOrdered) {
  expect_usage_error({"127.0.0.1:5000", "--election-timeout-min-ms", "300",
                      "--election-timeout-max-ms", "200"},
                     "--election-timeout-max-ms 200");
  expect_usage_error({"127.0.0.1:5000", "--heartbeat-ms", "200"}, "--heartbeat-ms 200");
  expect_usage_error({"127.0.0.1:5000", "--heartbeat-resend-ms", "100"}, "--heartbeat-resend-ms 100");
  expect_usage_error({"127.0.0.1:5000", "--heartbeat-resend-ms", "5"}, "--heartbeat-resend-ms 5");
  auto o = parse_ok({"127.0.0.1:5000", "--heartbeat-resend-ms", "0"});
  EXPECT_EQ(o.heartbeat_resend_ms, 0u);
  EXPECT_EQ(parse_ok({"127.0.0.1:5000"}).heartbeat_resend_ms, 20u);
}

// --network picks the timing; an option given on the command line or in a config file wins.
TEST(Cli, NetworkPresetSetsTheTimingOptionsNotGiven) {
  auto lan = parse_ok({"127.0.0.1:5000"});
  EXPECT_EQ(lan.network, raft::NetworkPreset::kLan);
  EXPECT_EQ(lan.election_timeout_min_ms, 150u);
  EXPECT_EQ(lan.election_timeout_max_ms, 300u);
  auto wan = parse_ok({"127.0.0.1:5000", "--network", "wan"});
  EXPECT_EQ(wan.network, raft::NetworkPreset::kWan);
  EXPECT_EQ(wan.heartbeat_ms, 100u);
  EXPECT_EQ(wan.heartbeat_resend_ms, 0u);
  EXPECT_EQ(wan.election_timeout_min_ms, 1000u);
  EXPECT_EQ(wan.election_timeout_max_ms, 2000u);
  auto mixed = parse_ok({"127.0.0.1:5000", "--network", "wan", "--election-timeout-min-ms", "3000",
                         "--election-timeout-max-ms", "6000"});
  EXPECT_EQ(mixed.election_timeout_min_ms, 3000u);
  EXPECT_EQ(mixed.election_timeout_max_ms, 6000u);
  EXPECT_EQ(mixed.heartbeat_resend_ms, 0u);
  expect_usage_error({"127.0.0.1:5000", "--network", "internet"}, "--network 'internet' is not one of lan|wan");
  // Only what the preset leaves is checked against it: wan's timeout with lan's, refused by name.
  expect_usage_error({"127.0.0.1:5000", "--network", "wan", "--election-timeout-max-ms", "900"},
                     "--election-timeout-max-ms 900");
  std::string dir = ::testing::TempDir() + "/network-preset";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/wan.toml") << "network = \"wan\"\nelection-timeout-min-ms = 1500\nelection-timeout-max-ms = 2500\n";
  auto file = parse_ok({"--config", dir + "/wan.toml", "127.0.0.1:5000"});
  EXPECT_EQ(file.network, raft::NetworkPreset::kWan);
  EXPECT_EQ(file.election_timeout_min_ms, 1500u);
  EXPECT_EQ(file.election_timeout_max_ms, 2500u);
  EXPECT_EQ(file.heartbeat_resend_ms, 0u);
}
TEST(Cli, DatagramBound) {
  expect_usage_error({"127.0.0.1:5000", "--max-datagram", "70000"}, "--max-datagram 70000");
}
// Appends and chunks fit 1,400-byte datagrams unless told otherwise; the target lies within
// 1,200 bytes and --max-datagram, or is 0 (fill --max-datagram).
TEST(Cli, DatagramTarget) {
  EXPECT_EQ(parse_ok({"127.0.0.1:5000"}).datagram_target, 1400u);
  EXPECT_EQ(parse_ok({"127.0.0.1:5000", "--datagram-target", "0"}).datagram_target, 0u);
  EXPECT_EQ(parse_ok({"127.0.0.1:5000", "--max-datagram", "1300", "--datagram-target", "1300"}).datagram_target,
            1300u);
  expect_usage_error({"127.0.0.1:5000", "--datagram-target", "1000"}, "--datagram-target 1000 is out of range");
  expect_usage_error({"127.0.0.1:5000", "--max-datagram", "1300"}, "--datagram-target 1400 is out of range 1200-1300");
}

TEST(CliConfig, ReadsTomlWithTheSameOptionNames) {
  TempFile file(
      "# comment\n"
      "self = \"127.0.0.1:5000\"\n"
      "peers = [\"127.0.0.1:5001=" + kKeyA + "\", \"127.0.0.1:5002=" + kKeyB + "\"]\n"
      "data-dir = \"/tmp/fednode-a\"\n"
      "log-level = \"warn\"\n"
      "heartbeat-ms = 40\n");
  auto o = parse_ok({"--config", file.path()});
  EXPECT_EQ(o.self.to_string(), "127.0.0.1:5000");
  ASSERT_EQ(o.peers.size(), 2u);
  EXPECT_EQ(o.data_dir, "/tmp/fednode-a");
  EXPECT_EQ(o.log_level, spdlog::level::warn);
  EXPECT_EQ(o.heartbeat_ms, 40u);
}

TEST(CliConfig, CommandLineOverridesConfig) {
  TempFile file("self = \"127.0.0.1:5000\"\nlog-level = \"warn\"\n");
  auto o = parse_ok({"--config", file.path(), "--log-level", "error"});
  EXPECT_EQ(o.log_level, spdlog::level::err);
}

TEST(CliConfig, MissingFileIsNamed) {
  expect_usage_error({"--config", "/nonexistent/fednode.toml"}, "/nonexistent/fednode.toml");
}
TEST(CliConfig, UnknownKeyIsNamed) {
  TempFile file("self = \"127.0.0.1:5000\"\nheartbeat_msec = 40\n");
  expect_usage_error({"--config", file.path()}, "heartbeat_msec");
}
TEST(CliConfig, AnUnknownKeyIsNamedWithItsFileAndLine) {
  TempFile file("rounds = 2\n\n  roundz = 3\n");
  expect_usage_error({"--config", file.path()}, "unknown key 'roundz' in " + file.path() + " (line 3)");
  TempFile section("[fl]\nrounds = 3\n");
  expect_usage_error({"--config", section.path()}, "section [fl] in " + section.path() + " (line 1)");
}

// configs/default.toml's sample keys are refused, not taken for real ones.
TEST(CliConfig, ThePlaceholderKeysAreRefused) {
  std::string placeholder = "127.0.0.1:5001=EXAMPLEkey-of-127-0-0-1-5001-put-its-own-kA";
  expect_usage_error({"127.0.0.1:5000", placeholder}, "placeholder of the sample config");
}

TEST(CliConfig, BadAddressInConfigIsNamed) {
  TempFile file("self = \"127.0.0.1:5000\"\npeers = [\"127.0.0.1:5000\"]\n");
  expect_usage_error({"--config", file.path()}, "self listed twice");
}

// --model FILE, --data PATH and what goes with them: each misuse gets one line naming it.
TEST(CliOwnData, ModelAndDataOptions) {
  TempFile model("not really a module, but a file");
  TempFile data("a,label\n1,0\n");
  std::string csv = data.path() + ".csv";
  std::filesystem::copy_file(data.path(), csv);
  const std::vector<std::string> peers = {"127.0.0.1:5000", "127.0.0.1:5001=" + kKeyA};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = peers;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  auto o = parse_ok(with({"--model", model.path(), "--data", csv, "--task", "regression", "--optimizer", "adam",
                          "--evaluate-every", "5", "--label-column", "label", "--test-fraction", "0.25"}));
  EXPECT_EQ(o.fl.dataset, "own");
  EXPECT_EQ(o.fl.partition, "none") << "a party's own data is used whole";
  EXPECT_EQ(o.fl.model, model.path());
  EXPECT_EQ(o.fl.task, "regression");
  EXPECT_EQ(o.fl.optimizer, "adam");
  EXPECT_EQ(o.fl.evaluate_every, 5u);
  EXPECT_EQ(parse_ok(with({"--model", model.path(), "--data", csv, "--partition", "iid"})).fl.partition, "iid");
  expect_usage_error(with({"--model", "/no/such/model.pt"}), "neither cifar10-cnn|fmnist-cnn nor a TorchScript file (no such file)");
  expect_usage_error(with({"--data", csv}), "needs --model FILE");
  expect_usage_error(with({"--model", model.path(), "--data", "/no/such.npz"}), "--data '/no/such.npz': no such file");
  expect_usage_error(with({"--model", model.path(), "--data", data.path()}), "cannot tell its format");
  expect_usage_error(with({"--task", "regression"}), "--task regression needs --model FILE");
  expect_usage_error(with({"--test-fraction", "0.2"}), "describe --data PATH, which is not given");
  expect_usage_error(with({"--partition", "none"}), "--partition none");
  expect_usage_error(with({"--model", model.path(), "--data", csv, "--test-fraction", "1"}), "--test-fraction");
  expect_usage_error(with({"--evaluate-every", "0"}), "--evaluate-every");
  std::filesystem::remove(csv);
}

// Every command is listed in --help, and --help exits 0 everywhere.
TEST(CliHelp, ListsEveryCommandAndExitsZero) {
  auto command = parse_cli({"--help"});
  ASSERT_TRUE(std::holds_alternative<CliExit>(command));
  const auto& exit = std::get<CliExit>(command);
  EXPECT_EQ(exit.code, 0);
  for (const char* c : {"fednode keygen", "fednode ctl", "train-local"}) EXPECT_NE(exit.out.find(c), std::string::npos) << c;
  EXPECT_EQ(run_ctl({"--help"}), 0);
}

// The shipped configs parse once their placeholder keys are replaced (here on the command line,
// which overrides the file); as shipped, the placeholders are refused by name.
TEST(CliConfig, ShippedConfigsParse) {
  auto dir = std::string(FEDNODE_SOURCE_DIR) + "/configs/";
  expect_usage_error({"--config", dir + "default.toml"}, "placeholder of the sample config");
  expect_usage_error({"--config", dir + "machine.toml"}, "placeholder of the sample config");
  auto d = parse_ok({"--config", dir + "default.toml", "127.0.0.1:5000", "127.0.0.1:5001=" + kKeyA,
                     "127.0.0.1:5002=" + kKeyB});
  EXPECT_EQ(d.self.port, 5000);
  EXPECT_EQ(d.peers.size(), 2u);
  EXPECT_EQ(d.network, raft::NetworkPreset::kLan);
  EXPECT_EQ(d.election_timeout_min_ms, 150u);
  EXPECT_EQ(d.heartbeat_resend_ms, 20u);
  auto l = parse_ok({"--config", dir + "local4.toml", "127.0.0.1:5003", "127.0.0.1:5000=" + kKeyA,
                     "127.0.0.1:5001=" + kKeyB, "127.0.0.1:5002=" + kKeyA});
  EXPECT_EQ(l.cluster_id, "fednode-local4");
  EXPECT_EQ(l.peers.size(), 3u);
  auto m = parse_ok({"--config", dir + "machine.toml", "198.18.0.1:5000", "198.18.0.2:5000=" + kKeyA,
                     "198.18.0.3:5000=" + kKeyB, "198.18.0.4:5000=" + kKeyA});
  EXPECT_EQ(m.self.host, "198.18.0.1");
  EXPECT_EQ(m.peers.size(), 3u);
  EXPECT_EQ(m.data_dir, "/var/lib/fednode");
}

}  // namespace
}  // namespace fednode

namespace fednode {
namespace {

TEST(CliTrainLocal, ParsesOptionsAndDefaults) {
  auto command = parse_cli({"train-local", "--dataset", "fashion-mnist", "--epochs", "3", "--lr", "0.05", "--augment"});
  ASSERT_TRUE(std::holds_alternative<TrainLocalOptions>(command));
  const auto& t = std::get<TrainLocalOptions>(command);
  EXPECT_EQ(t.dataset, "fashion-mnist");
  EXPECT_EQ(t.dataset_dir, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(t.epochs, 3);
  EXPECT_DOUBLE_EQ(t.lr, 0.05);
  EXPECT_TRUE(t.augment);
  auto c = std::get<TrainLocalOptions>(parse_cli({"train-local"}));
  EXPECT_EQ(c.dataset_dir, "data/cifar-10-batches-bin");
}

TEST(CliTrainLocal, BadValuesAreNamed) {
  expect_usage_error({"train-local", "--dataset", "mnist"}, "mnist");
  expect_usage_error({"train-local", "--epochs", "0"}, "--epochs");
  expect_usage_error({"train-local", "--lr", "-1"}, "--lr");
  expect_usage_error({"train-local", "--threads", "many"}, "many");
}

}  // namespace
}  // namespace fednode

namespace fednode {
namespace {

TEST(CliFederated, TrainingOptionsAndDefaults) {
  auto o = parse_ok({"127.0.0.1:5000", "127.0.0.1:5001=" + kKeyA, "--rounds", "5", "--local-epochs", "2", "--dataset",
                     "fashion-mnist", "--min-clients", "2", "--fraction", "0.5", "--deadline-s", "30", "--partition",
                     "dirichlet", "--alpha", "0.3", "--rotate-every", "2"});
  EXPECT_EQ(o.fl.rounds, 5u);
  EXPECT_EQ(o.fl.local_epochs, 2);
  EXPECT_EQ(o.fl.model, "fmnist-cnn");  // the data set's model
  EXPECT_EQ(o.fl.min_clients, 2u);
  EXPECT_DOUBLE_EQ(o.fl.fraction, 0.5);
  EXPECT_EQ(o.fl.partition, "dirichlet");
  EXPECT_EQ(o.fl.rotate_every, 2u);
  EXPECT_EQ(parse_ok({"127.0.0.1:5000"}).fl.rounds, 0u);  // no training unless asked
  EXPECT_EQ(parse_ok({"127.0.0.1:5000"}).fl.model, "cifar10-cnn");
}

TEST(CliFederated, BadTrainingOptionsAreNamed) {
  expect_usage_error({"127.0.0.1:5000", "--dataset", "imagenet"}, "imagenet");
  expect_usage_error({"127.0.0.1:5000", "--partition", "sorted"}, "sorted");
  expect_usage_error({"127.0.0.1:5000", "--fraction", "1.5"}, "--fraction");
  expect_usage_error({"127.0.0.1:5000", "--min-clients", "0"}, "--min-clients");
  expect_usage_error({"127.0.0.1:5000", "--model", "resnet"}, "resnet");
  expect_usage_error({"127.0.0.1:5000", "--crash-at", "start:2"}, "--crash-marker-dir");
  expect_usage_error({"127.0.0.1:5000", "--crash-at", "lunch:2", "--crash-marker-dir", "/tmp"}, "lunch:2");
  expect_usage_error({"127.0.0.1:5000", "--crash-at", "start:x", "--crash-marker-dir", "/tmp"}, "start:x");
}

}  // namespace
}  // namespace fednode
