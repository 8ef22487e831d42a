// cluster-bench: starts a 3-node fednode group on loopback (durable: every acknowledged write is
// fdatasync'ed on a majority) and measures blocking writes of 100-byte values from 1, 16 and 64
// concurrent clients, then leader failover time (SIGKILL the leader -> a new leader accepts a
// write) over repeated trials. With --etcd it drives a running etcd member instead, with the same
// clients and values (through etcd's JSON gateway), so that the two are measured alike.
//   cluster-bench --fednode build/fednode [--seconds 5] [--trials 50] [--dir DIR] [--clients 1,16,64]
//   cluster-bench --etcd 127.0.0.1:2379 [--seconds 5] [--clients 1,16,64]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "etcd_writer.h"
#include "fednode/net/client_connection.h"

using namespace fednode;
using Clock = std::chrono::steady_clock;

namespace {

struct Node {
  PeerAddress address;
  pid_t pid = -1;
  std::string key;  // public key (secure mode)
};

std::string fednode_bin;
std::string work_dir;
std::vector<Node> nodes;
bool insecure = false;
std::vector<std::string> extra_args;  // --node-arg, for every node

// `fednode keygen --out DIR`: the public key it prints.
std::string make_key(const std::string& dir) {
  std::string command = fednode_bin + " keygen --out " + dir + " 2>/dev/null";
  FILE* out = popen(command.c_str(), "r");
  char line[128] = {0};
  if (!out || !std::fgets(line, sizeof line, out)) line[0] = 0;
  if (out) pclose(out);
  std::string key(line);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return key;
}

void start(std::size_t i) {
  std::vector<std::string> args{fednode_bin, nodes[i].address.to_string()};
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    if (j != i) args.push_back(nodes[j].address.to_string() + (insecure ? "" : "=" + nodes[j].key));
  }
  args.insert(args.end(), {"--data-dir", work_dir + "/d" + std::to_string(i), "--log-level", "warn"});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (insecure) {
    args.push_back("--insecure");
  } else {
    args.insert(args.end(), {"--key-file", work_dir + "/k" + std::to_string(i) + "/node.key"});
  }
  pid_t pid = fork();
  if (pid == 0) {
    // A node must not outlive the bench, however the bench ends (a leftover node once held its
    // ports into the next run).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = work_dir + "/log" + std::to_string(i);
    freopen(log.c_str(), "a", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  nodes[i].pid = pid;
}

void kill_node(std::size_t i) {
  if (nodes[i].pid > 0) {
    kill(nodes[i].pid, SIGKILL);
    waitpid(nodes[i].pid, nullptr, 0);
    nodes[i].pid = -1;
  }
}

std::string request(const std::string& type, const std::string& key = "", const std::string& value = "") {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(type == "append" ? 3 : 2);
  p.pack("type");
  p.pack(type);
  p.pack("id");
  p.pack(1);
  if (type == "append") {
    p.pack("data");
    p.pack_map(3);
    p.pack("action");
    p.pack("change");
    p.pack("key");
    p.pack(key);
    p.pack("value");
    p.pack(value);
  }
  return std::string(b.data(), b.size());
}

// The index of the node that says it leads, or -1.
int find_leader() {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].pid < 0) continue;
    net::ClientConnection c;
    msgpack::object_handle h;
    if (!c.connect(nodes[i].address, std::chrono::milliseconds(200)).ok()) continue;
    if (!c.call(request("diagnostic"), &h, std::chrono::milliseconds(500)).ok()) continue;
    if (net::as_string(net::map_field(h.get(), "status")) == "Leader") return static_cast<int>(i);
  }
  return -1;
}

int wait_leader(double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    int l = find_leader();
    if (l >= 0) return l;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// One fednode client: writes through the node it believes leads. A redirect or a failed call
// sends it to whichever node leads now, so that a leader change under load does not leave every
// client writing to a follower (or to a dead connection) for the rest of the load.
class FednodeWriter {
 public:
  bool write(const std::string& key, const std::string& value) {
    if (!conn_ && !reconnect()) return false;
    msgpack::object_handle h;
    if (!conn_->call(request("append", key, value), &h, std::chrono::milliseconds(2000)).ok()) {
      conn_.reset();  // a late answer must not be read as the next write's
      return false;
    }
    const auto* ok = net::map_field(h.get(), "success");
    if (ok && ok->type == msgpack::type::BOOLEAN && ok->via.boolean) return true;
    if (net::as_string(net::map_field(h.get(), "type")) == "redirect") conn_.reset();
    return false;
  }

 private:
  bool reconnect() {
    int l = find_leader();
    if (l < 0) return false;
    conn_ = std::make_unique<net::ClientConnection>();
    if (conn_->connect(nodes[static_cast<std::size_t>(l)].address, std::chrono::seconds(2)).ok()) return true;
    conn_.reset();
    return false;
  }
  std::unique_ptr<net::ClientConnection> conn_;
};

struct LoadResult {
  std::size_t acknowledged = 0, failed = 0;
};

// `clients` threads, each writing its own keys one at a time for `seconds`; prints writes/s,
// latency percentiles and the attempts that failed. make_writer(thread) gives the thread's
// blocking write function.
LoadResult run_load(int clients, double seconds,
                    const std::function<std::function<bool(const std::string&)>(int)>& make_writer) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  std::atomic<std::size_t> failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      auto write = make_writer(t);
      for (int k = 0; !stop; ++k) {
        auto a = Clock::now();
        if (!write("c" + std::to_string(t) + "-" + std::to_string(k))) {
          ++failed;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        lat[static_cast<std::size_t>(t)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf("%-10d %12.0f %10.2f %10.2f %10zu\n", clients, static_cast<double>(all.size()) / seconds,
              percentile(all, 0.5), percentile(all, 0.99), failed.load());
  std::fflush(stdout);
  return {all.size(), failed.load()};
}

// A load with no write acknowledged measured nothing: the bench fails rather than report it.
bool acknowledged_some(const char* system, int clients, const LoadResult& r) {
  if (r.acknowledged > 0) return true;
  std::fprintf(stderr, "cluster-bench: %s acknowledged no write in the %d-client load (%zu attempts failed)\n", system,
               clients, r.failed);
  return false;
}

int run_etcd(const std::string& endpoint, double seconds, const std::vector<int>& client_counts) {
  bench::EtcdWriter probe;
  if (!probe.connect(endpoint) || !probe.put("cluster-bench-probe", "x")) {
    std::fprintf(stderr, "cluster-bench: etcd at %s does not take a put on /v3/kv/put\n", endpoint.c_str());
    return 1;
  }
  std::printf("etcd at %s (JSON gateway, same clients and 100-byte values)\n", endpoint.c_str());
  std::printf("%-10s %12s %10s %10s %10s\n", "clients", "writes/s", "p50 ms", "p99 ms", "failed");
  const std::string value(100, 'v');
  bool all_measured = true;
  for (int n : client_counts) {
    LoadResult r = run_load(n, seconds, [&](int) {
      auto w = std::make_shared<bench::EtcdWriter>();
      bool up = w->connect(endpoint);
      return std::function<bool(const std::string&)>([w, up, &value](const std::string& key) {
        return up && w->put(key, value);
      });
    });
    all_measured = acknowledged_some("etcd", n, r) && all_measured;
  }
  return all_measured ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int trials = 50;
  work_dir = "cluster-bench-data";
  CLI::App app{"fednode cluster benchmark"};
  std::string etcd;
  std::vector<int> client_counts{1, 16, 64};
  auto* fednode_opt = app.add_option("--fednode", fednode_bin, "Path of the fednode binary");
  app.add_option("--etcd", etcd, "Drive this etcd member (HOST:PORT) instead of fednode nodes")->excludes(fednode_opt);
  app.add_option("--clients", client_counts, "Concurrent clients per load")->delimiter(',')->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per write load")->capture_default_str();
  app.add_option("--trials", trials, "Failover trials")->capture_default_str();
  app.add_option("--dir", work_dir, "Scratch directory (deleted)")->capture_default_str();
  app.add_option("--node-arg", extra_args, "An argument for every node (repeat it)")->allow_extra_args(false);
  app.add_flag("--insecure", insecure, "Run the nodes with --insecure (plaintext, no keys)");
  CLI11_PARSE(app, argc, argv);
  if (!etcd.empty()) return run_etcd(etcd, seconds, client_counts);
  if (fednode_bin.empty()) {
    std::fprintf(stderr, "cluster-bench: give --fednode BIN or --etcd HOST:PORT\n");
    return 2;
  }
  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);
  int base = 20000 + static_cast<int>(getpid() % 20000);
  for (int i = 0; i < 3; ++i) nodes.push_back({PeerAddress{"127.0.0.1", static_cast<std::uint16_t>(base + i)}, -1, ""});
  if (!insecure) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      nodes[i].key = make_key(work_dir + "/k" + std::to_string(i));
      if (nodes[i].key.empty()) {
        std::fprintf(stderr, "cluster-bench: fednode keygen failed\n");
        return 1;
      }
    }
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) start(i);
  int leader = wait_leader(10);
  if (leader < 0) {
    std::fprintf(stderr, "cluster-bench: no leader\n");
    for (std::size_t i = 0; i < nodes.size(); ++i) kill_node(i);
    return 1;
  }
  std::printf("3 fednode nodes on loopback (%s), fdatasync before every acknowledgement, 100-byte values\n",
              insecure ? "--insecure" : "secure: sealed peer datagrams");
  std::printf("%-10s %12s %10s %10s %10s\n", "clients", "writes/s", "p50 ms", "p99 ms", "failed");
  const std::string value(100, 'v');
  bool all_measured = true;
  for (int n : client_counts) {
    int before = find_leader();
    LoadResult r = run_load(n, seconds, [&](int) {
      auto w = std::make_shared<FednodeWriter>();
      return std::function<bool(const std::string&)>([w, &value](const std::string& key) { return w->write(key, value); });
    });
    int after = find_leader();
    if (before != after) std::printf("  (the leader changed during this load: node %d, then node %d)\n", before, after);
    all_measured = acknowledged_some("fednode", n, r) && all_measured;
  }
  std::vector<double> failover;
  for (int trial = 0; trial < trials; ++trial) {
    leader = wait_leader(10);
    if (leader < 0) break;
    auto t0 = Clock::now();
    kill_node(static_cast<std::size_t>(leader));
    bool done = false;
    while (!done && Clock::now() - t0 < std::chrono::seconds(10)) {
      for (std::size_t i = 0; i < nodes.size() && !done; ++i) {
        if (nodes[i].pid < 0) continue;
        net::ClientConnection c;
        if (!c.connect(nodes[i].address, std::chrono::milliseconds(100)).ok()) continue;
        msgpack::object_handle h;
        if (!c.call(request("append", "failover", std::to_string(trial)), &h, std::chrono::milliseconds(500)).ok()) continue;
        const auto* ok = net::map_field(h.get(), "success");
        done = ok && ok->type == msgpack::type::BOOLEAN && ok->via.boolean;
      }
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (done) failover.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    start(static_cast<std::size_t>(leader));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // let it rejoin before the next kill
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) kill_node(i);
  std::filesystem::remove_all(work_dir);
  double mx = failover.empty() ? 0 : *std::max_element(failover.begin(), failover.end());
  std::printf("failover (SIGKILL leader -> a new leader acknowledges a write), %zu of %d trials: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
              failover.size(), trials, percentile(failover, 0.5), percentile(failover, 0.99), mx);
  std::printf("failover samples ms:");  // for pooling trials over several runs
  for (double f : failover) std::printf(" %.0f", f);
  std::printf("\n");
  return all_measured ? 0 : 1;
}
