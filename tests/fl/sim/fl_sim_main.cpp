// fl-sim: runs the federated-round simulation for many seeds, or one seed with a trace.
//   fl-sim --seeds 10000 [--start 1] [--steps 2000] [--bug NAME] [--trace-seed S] [--list-failures]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "fl_simulation.h"

using namespace fednode::fl;

int main(int argc, char** argv) {
  std::uint64_t seeds = 2000, start = 1, trace_seed = 0;
  int steps = sim::FlSimOptions{}.steps;
  std::string bug;
  bool list_failures = false;
  CLI::App app{"Deterministic simulation of fednode's federated rounds over its Raft core"};
  app.add_option("--seeds", seeds, "Number of seeds to run")->capture_default_str();
  app.add_option("--start", start, "First seed")->capture_default_str();
  app.add_option("--steps", steps, "Faulty ticks per seed (a fault-free phase follows)")->capture_default_str();
  app.add_option("--bug", bug, "Inject a known bug")
      ->check(CLI::IsMember({"commit-before-majority", "accept-earlier-attempt", "trust-remote-wall-clock",
                             "drop-failed-jobs", "fresh-server-state"}));
  app.add_option("--trace-seed", trace_seed, "Run one seed and print its trace");
  app.add_flag("--list-failures", list_failures, "Run every seed; print each failure with its parameters");
  CLI11_PARSE(app, argc, argv);

  sim::FlSimOptions options;
  options.steps = steps;
  options.bugs.commit_before_majority = bug == "commit-before-majority";
  options.bugs.accept_earlier_attempt = bug == "accept-earlier-attempt";
  options.bugs.trust_remote_wall_clock = bug == "trust-remote-wall-clock";
  options.bugs.drop_failed_jobs = bug == "drop-failed-jobs";
  options.bugs.fresh_server_state = bug == "fresh-server-state";

  if (trace_seed != 0) {
    options.seed = trace_seed;
    options.trace = true;
    auto r = sim::run_fl_simulation(options);
    for (const auto& line : r.trace) std::puts(line.c_str());
    std::printf("%s\n%s\n", r.stats.parameters.c_str(), r.ok ? "ok" : r.failure.c_str());
    return r.ok ? 0 : 1;
  }
  if (list_failures) {
    std::uint64_t failures = 0;
    for (std::uint64_t s = start; s < start + seeds; ++s) {
      options.seed = s;
      auto r = sim::run_fl_simulation(options);
      if (!r.ok) {
        ++failures;
        std::printf("%s | %s\n", r.failure.c_str(), r.stats.parameters.c_str());
      }
    }
    std::printf("%llu of %llu seeds failed\n", static_cast<unsigned long long>(failures),
                static_cast<unsigned long long>(seeds));
    return failures == 0 ? 0 : 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::uint64_t failing = 0;
  sim::FlSimStats t;
  auto r = sim::run_fl_seeds(start, seeds, options, &failing, &t);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok) {
    std::size_t from = r.trace.size() > 80 ? r.trace.size() - 80 : 0;
    for (std::size_t i = from; i < r.trace.size(); ++i) std::puts(r.trace[i].c_str());
    std::printf("FAILED: %s\nreproduce: fl-sim --trace-seed %llu%s%s\n", r.failure.c_str(),
                static_cast<unsigned long long>(failing), bug.empty() ? "" : " --bug ", bug.c_str());
    return 1;
  }
  auto u = [](std::uint64_t x) { return static_cast<unsigned long long>(x); };
  std::printf(
      "%llu seeds x %d faulty steps ok in %.1f s: %llu rounds committed (%llu evaluated), %llu re-runs, %llu leaders elected, "
      "%llu crashes, %llu partitions, %llu jobs (%llu failed), %llu snapshots installed, worst liveness %d ticks\n",
      u(seeds), steps, secs, u(t.commits), u(t.evaluations), u(t.reruns), u(t.leaders_elected), u(t.crashes), u(t.partitions), u(t.jobs),
      u(t.jobs_failed), u(t.snapshots_installed), t.liveness_ticks);
  return 0;
}
