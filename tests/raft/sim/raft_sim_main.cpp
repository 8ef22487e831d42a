// raft-sim: runs the Raft simulation for many seeds (long soaks), or one seed with a trace.
//   raft-sim --seeds 100000 [--start 1] [--steps 1000] [--bug NAME] [--trace-seed S]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "simulation.h"

using namespace fednode::raft;

int main(int argc, char** argv) {
  std::uint64_t seeds = 2000, start = 1, trace_seed = 0;
  int steps = 1000;
  std::string bug;
  CLI::App app{"Deterministic simulation of fednode's Raft core"};
  app.add_option("--seeds", seeds, "Number of seeds to run")->capture_default_str();
  app.add_option("--start", start, "First seed")->capture_default_str();
  app.add_option("--steps", steps, "Faulty ticks per seed (a fault-free phase follows)")->capture_default_str();
  app.add_option("--bug", bug, "Inject a known bug")
      ->check(CLI::IsMember({"commit-previous-term", "forget-vote", "vote-without-log-check", "apply-before-commit",
                             "send-before-persist", "count-own-copy-early"}));
  app.add_option("--trace-seed", trace_seed, "Run one seed and print its trace");
  bool restore_in_place = false;
  app.add_flag("--restore-in-place", restore_in_place,
               "Operator error: data dirs copied aside and put back at restarts (unsafe; expect failures)");
  bool list_failures = false;
  app.add_flag("--list-failures", list_failures, "Run every seed; print each failure with its parameters");
  CLI11_PARSE(app, argc, argv);

  sim::SimOptions options;
  options.steps = steps;
  options.restore_in_place = restore_in_place;
  options.bugs.commit_previous_term_by_counting = bug == "commit-previous-term";
  options.bugs.forget_to_persist_vote = bug == "forget-vote";
  options.bugs.vote_without_log_check = bug == "vote-without-log-check";
  options.bugs.apply_before_commit = bug == "apply-before-commit";
  options.bugs.send_before_persist_always = bug == "send-before-persist";
  options.bugs.count_own_copy_before_durable = bug == "count-own-copy-early";

  if (trace_seed != 0) {
    options.seed = trace_seed;
    options.trace = true;
    auto r = sim::run_simulation(options);
    for (const auto& line : r.trace) std::puts(line.c_str());
    std::printf("%s\n", r.ok ? "ok" : r.failure.c_str());
    return r.ok ? 0 : 1;
  }
  if (list_failures) {
    std::uint64_t failures = 0;
    for (std::uint64_t s = start; s < start + seeds; ++s) {
      options.seed = s;
      auto r = sim::run_simulation(options);
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
  sim::SimStats totals;
  auto r = sim::run_seeds(start, seeds, options, &failing, &totals);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok) {
    std::size_t from = r.trace.size() > 80 ? r.trace.size() - 80 : 0;
    for (std::size_t i = from; i < r.trace.size(); ++i) std::puts(r.trace[i].c_str());
    std::printf("FAILED: %s\nreproduce: raft-sim --trace-seed %llu%s%s%s\n", r.failure.c_str(),
                static_cast<unsigned long long>(failing), bug.empty() ? "" : " --bug ", bug.c_str(),
                restore_in_place ? " --restore-in-place" : "");
    return 1;
  }
  std::printf(
      "%llu seeds x %d steps ok in %.1f s: %llu leaders elected, %llu entries committed, %llu writes "
      "acked, %llu linearizable reads, %llu crashes, %llu partitions, %llu membership changes (%llu "
      "removed members added back), %llu restores in place, %llu "
      "transfers, %llu snapshots installed, %llu messages, max term %llu, worst liveness %d ticks\n",
      static_cast<unsigned long long>(seeds), steps, secs,
      static_cast<unsigned long long>(totals.leaders_elected),
      static_cast<unsigned long long>(totals.entries_committed),
      static_cast<unsigned long long>(totals.writes_acked),
      static_cast<unsigned long long>(totals.reads_served),
      static_cast<unsigned long long>(totals.crashes),
      static_cast<unsigned long long>(totals.partitions),
      static_cast<unsigned long long>(totals.conf_changes),
      static_cast<unsigned long long>(totals.readds),
      static_cast<unsigned long long>(totals.restores),
      static_cast<unsigned long long>(totals.transfers),
      static_cast<unsigned long long>(totals.snapshots_installed),
      static_cast<unsigned long long>(totals.messages_delivered),
      static_cast<unsigned long long>(totals.max_term), totals.liveness_ticks);
  return 0;
}
