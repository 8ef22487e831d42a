// fl-sim: runs the federated-round simulation for many seeds, or one seed with a trace.
//   fl-sim --seeds 10000 [--start 1] [--steps 2000] [--bug NAME] [--trace-seed S] [--list-failures]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "fl_simulation.h"
#include "seed_runner.h"

using namespace fednode::fl;

int main(int argc, char** argv) {
  fednode::sim_support::SeedCommand cmd;
  cmd.steps = sim::FlSimOptions{}.steps;
  CLI::App app{"Deterministic simulation of fednode's federated rounds over its Raft core"};
  fednode::sim_support::add_seed_options(app, cmd,
                                         {"commit-before-majority", "accept-earlier-attempt", "trust-remote-wall-clock",
                                          "drop-failed-jobs", "fresh-server-state", "shell-stops-training-after-jobs"});
  CLI11_PARSE(app, argc, argv);

  sim::FlSimOptions options;
  options.steps = cmd.steps;
  options.bugs.commit_before_majority = cmd.bug == "commit-before-majority";
  options.bugs.accept_earlier_attempt = cmd.bug == "accept-earlier-attempt";
  options.bugs.trust_remote_wall_clock = cmd.bug == "trust-remote-wall-clock";
  options.bugs.drop_failed_jobs = cmd.bug == "drop-failed-jobs";
  options.bugs.fresh_server_state = cmd.bug == "fresh-server-state";
  options.bugs.shell_stops_training_after_jobs = cmd.bug == "shell-stops-training-after-jobs";

  auto summary = [&cmd](const sim::FlSimStats& t, double secs) {
    auto u = [](std::uint64_t x) { return static_cast<unsigned long long>(x); };
    char line[1024];
    std::snprintf(line, sizeof line,
                  "%llu seeds x %d faulty steps ok in %.1f s: %llu rounds committed (%llu evaluated), %llu re-runs, "
                  "%llu leaders elected, %llu crashes, %llu partitions, %llu jobs (%llu failed), %llu proposals "
                  "refused, %llu snapshots installed, worst liveness %d ticks",
                  u(cmd.seeds), cmd.steps, secs, u(t.commits), u(t.evaluations), u(t.reruns), u(t.leaders_elected),
                  u(t.crashes), u(t.partitions), u(t.jobs), u(t.jobs_failed), u(t.proposals_refused), u(t.snapshots_installed), t.liveness_ticks);
    return std::string(line);
  };
  return fednode::sim_support::run_seed_command<sim::FlSimOptions, sim::FlSimResult, sim::FlSimStats>(
      "fl-sim", cmd, options, &sim::run_fl_simulation,
      [](std::uint64_t first, std::uint64_t count, sim::FlSimOptions o, std::uint64_t* failing, sim::FlSimStats* totals) {
        return sim::run_fl_seeds(first, count, std::move(o), failing, totals);
      },
      summary, cmd.bug.empty() ? "" : " --bug " + cmd.bug);
}
