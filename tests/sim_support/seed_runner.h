#pragma once
// What the two deterministic simulators (raft-sim, fl-sim) share: running a range of seeds with
// the first failure re-run under a trace, the last lines of a trace, and their command line
// (--seeds, --start, --steps, --bug, --trace-seed, --list-failures). Header-only templates over
// each simulator's options, result and stats.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace fednode::sim_support {

// The last `lines` lines of a trace, one per line.
inline std::string trace_tail(const std::vector<std::string>& trace, std::size_t lines) {
  std::string tail;
  for (std::size_t i = trace.size() > lines ? trace.size() - lines : 0; i < trace.size(); ++i) tail += trace[i] + "\n";
  return tail;
}

// Runs seeds [first, first + count) with `run` (Options -> Result), adding each result's stats to
// `*totals` with `add` (when totals is given). Returns the first failing result, re-run with a
// trace; a failure that does not come back under tracing is a determinism bug and says so. ok
// when every seed passed.
template <typename Options, typename Result, typename Stats, typename Add>
Result run_seeds(std::uint64_t first, std::uint64_t count, Options base, std::uint64_t* failing_seed, Stats* totals,
                 Result (*run)(const Options&), Add add) {
  for (std::uint64_t s = first; s < first + count; ++s) {
    base.seed = s;
    base.trace = false;
    Result r = run(base);
    if (totals) add(*totals, r.stats);
    if (!r.ok) {
      if (failing_seed) *failing_seed = s;
      base.trace = true;
      Result traced = run(base);
      if (traced.ok) traced.failure = r.failure + " (did not reproduce with tracing: a determinism bug)";
      traced.ok = false;
      return traced;
    }
  }
  return Result{};
}

struct SeedCommand {
  std::uint64_t seeds = 2000, start = 1, trace_seed = 0;
  int steps = 0;
  std::string bug;  // one of the simulator's injectable bugs, or ""
  bool list_failures = false;
};

inline void add_seed_options(CLI::App& app, SeedCommand& c, const std::vector<std::string>& bugs) {
  app.add_option("--seeds", c.seeds, "Number of seeds to run")->capture_default_str();
  app.add_option("--start", c.start, "First seed")->capture_default_str();
  app.add_option("--steps", c.steps, "Faulty ticks per seed (a fault-free phase follows)")->capture_default_str();
  app.add_option("--bug", c.bug, "Inject a known bug")->check(CLI::IsMember(bugs));
  app.add_option("--trace-seed", c.trace_seed, "Run one seed and print its trace");
  app.add_flag("--list-failures", c.list_failures, "Run every seed; print each failure with its parameters");
}

// Carries out the command: one seed with its trace, every seed listed, or a soak that prints
// `summary(totals, seconds)` or the first failure with its trace and the command that reproduces
// it (`reproduce` holds the flags to repeat, e.g. " --bug forget-vote"). Returns the exit code.
template <typename Options, typename Result, typename Stats>
int run_seed_command(const char* tool, const SeedCommand& c, Options options, Result (*run)(const Options&),
                     Result (*seeds)(std::uint64_t, std::uint64_t, Options, std::uint64_t*, Stats*),
                     const std::function<std::string(const Stats&, double)>& summary, const std::string& reproduce) {
  if (c.trace_seed != 0) {
    options.seed = c.trace_seed;
    options.trace = true;
    Result r = run(options);
    for (const auto& line : r.trace) std::puts(line.c_str());
    std::printf("%s\n%s\n", r.stats.parameters.c_str(), r.ok ? "ok" : r.failure.c_str());
    return r.ok ? 0 : 1;
  }
  if (c.list_failures) {
    std::uint64_t failures = 0;
    for (std::uint64_t s = c.start; s < c.start + c.seeds; ++s) {
      options.seed = s;
      Result r = run(options);
      if (!r.ok) {
        ++failures;
        std::printf("%s | %s\n", r.failure.c_str(), r.stats.parameters.c_str());
      }
    }
    std::printf("%llu of %llu seeds failed\n", static_cast<unsigned long long>(failures),
                static_cast<unsigned long long>(c.seeds));
    return failures == 0 ? 0 : 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::uint64_t failing = 0;
  Stats totals;
  Result r = seeds(c.start, c.seeds, options, &failing, &totals);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok) {
    std::fputs(trace_tail(r.trace, 80).c_str(), stdout);
    std::printf("FAILED: %s\nreproduce: %s --trace-seed %llu%s\n", r.failure.c_str(), tool,
                static_cast<unsigned long long>(failing), reproduce.c_str());
    return 1;
  }
  std::printf("%s\n", summary(totals, secs).c_str());
  return 0;
}

}  // namespace fednode::sim_support
