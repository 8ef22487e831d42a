// The aggregator's memory against the number of updates: each case runs in a child process (peak
// resident memory, VmHWM, only grows) and aggregates N synthetic updates of a P-parameter model
//   memory:    all N decoded updates held at once, then the rule (how fednode aggregated before)
//   streaming: one update at a time: FedAvg folds it into a running sum; median and the other
//              robust rules spill it to a scratch file and read all of them a chunk at a time
// and prints the peak RSS over the child's baseline and the time, side by side.
//   build/aggregation-memory-bench [--params 1000000] [--updates 8,32,128] [--rules fedavg,median]
//                                  [--dir DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "fednode/fl/robust_aggregation.h"
#include "fednode/fl/update_rows.h"

namespace {

using namespace fednode;
using namespace fednode::fl;

long status_kb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  }
  return 0;
}

ModelWeights model(std::size_t params, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  ModelWeights m;
  std::size_t half = params / 2;
  m.parameters.push_back({"a.weight", {static_cast<std::int64_t>(half)}, std::vector<float>(half)});
  m.parameters.push_back({"b.weight", {static_cast<std::int64_t>(params - half)}, std::vector<float>(params - half)});
  for (auto& p : m.parameters) {
    for (auto& v : p.values) v = n(rng);
  }
  return m;
}

struct Outcome {
  long peak_kb = 0;
  double seconds = 0;
  bool ok = false;
};

Outcome run_case(const std::string& mode, AggregatorKind kind, std::size_t updates, std::size_t params,
                 const std::string& dir) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ModelWeights layout = model(params, 0);
    long base_kb = status_kb("VmRSS");  // after the layout (one model) exists
    auto t0 = std::chrono::steady_clock::now();
    AggregatorSettings settings{kind, 0.1, 1, {}};
    ModelWeights out;
    Status s;
    if (mode == "memory") {
      std::vector<ClientUpdate> all;
      for (std::size_t u = 0; u < updates; ++u) all.push_back({model(params, static_cast<unsigned>(u + 1)), 10});
      s = aggregate(settings, all, &out);
    } else if (kind == AggregatorKind::kFedAvg) {
      WeightedSum sum;
      for (std::size_t u = 0; u < updates && s.ok(); ++u) s = sum.add(model(params, static_cast<unsigned>(u + 1)), 10);
      if (s.ok()) s = sum.mean(&out);
    } else {
      SpilledRows rows(dir, layout);
      for (std::size_t u = 0; u < updates && s.ok(); ++u) s = rows.add(model(params, static_cast<unsigned>(u + 1)), 10);
      if (s.ok()) s = aggregate_rows(settings, layout, rows, &out);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long peak = status_kb("VmHWM") - base_kb;
    std::string line = std::to_string(s.ok()) + " " + std::to_string(peak) + " " + std::to_string(seconds);
    if (!s.ok()) std::fprintf(stderr, "%s\n", s.message().c_str());
    (void)!::write(fds[1], line.data(), line.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  char buf[128] = {};
  ssize_t n = ::read(fds[0], buf, sizeof buf - 1);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  Outcome o;
  if (n > 0) {
    int ok = 0;
    std::istringstream(buf) >> ok >> o.peak_kb >> o.seconds;
    o.ok = ok != 0;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t params = 1000000;
  std::vector<std::size_t> counts{8, 32, 128};
  std::vector<std::string> rules{"fedavg", "median"};
  std::string dir = (std::filesystem::temp_directory_path() / ("fednode-agg-bench-" + std::to_string(::getpid()))).string();
  CLI::App app{"Peak memory of aggregation against the number of updates: all in memory vs one at a time"};
  app.add_option("--params", params, "Model parameters (float32)")->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
  app.add_option("--updates", counts, "Numbers of updates")->delimiter(',');
  app.add_option("--rules", rules, "fedavg, median, trimmed-mean, krum, ...")->delimiter(',');
  app.add_option("--dir", dir, "Scratch directory for spilled updates");
  CLI11_PARSE(app, argc, argv);
  std::printf("model: %zu parameters (%.1f MB as float32)\n", params, params * 4 / 1e6);
  std::printf("%-13s %8s %16s %16s %12s %12s\n", "rule", "updates", "memory peak MB", "stream peak MB", "memory s",
              "stream s");
  int failures = 0;
  for (const auto& name : rules) {
    auto kind = parse_aggregator(name);
    if (!kind) {
      std::fprintf(stderr, "aggregation-memory-bench: unknown rule '%s' (%s)\n", name.c_str(), aggregator_names().c_str());
      return 2;
    }
    for (std::size_t n : counts) {
      Outcome m = run_case("memory", *kind, n, params, dir);
      Outcome s = run_case("streaming", *kind, n, params, dir);
      failures += !m.ok + !s.ok;
      std::printf("%-13s %8zu %16.1f %16.1f %12.2f %12.2f\n", name.c_str(), n, m.peak_kb / 1024.0, s.peak_kb / 1024.0,
                  m.seconds, s.seconds);
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
