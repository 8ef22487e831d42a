// raft-sim: runs the Raft simulation for many seeds (long soaks), or one seed with a trace.
//   raft-sim --seeds 100000 [--start 1] [--steps 1000] [--bug NAME] [--restore-in-place]
//            [--trace-seed S] [--list-failures]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "seed_runner.h"
#include "simulation.h"

using namespace fednode::raft;

int main(int argc, char** argv) {
  fednode::sim_support::SeedCommand cmd;
  cmd.steps = 1000;
  bool restore_in_place = false;
  CLI::App app{"Deterministic simulation of fednode's Raft core"};
  fednode::sim_support::add_seed_options(app, cmd,
                                         {"commit-previous-term", "forget-vote", "vote-without-log-check",
                                          "apply-before-commit", "send-before-persist", "count-own-copy-early"});
  app.add_flag("--restore-in-place", restore_in_place,
               "Operator error: data dirs copied aside and put back at restarts (unsafe; expect failures)");
  CLI11_PARSE(app, argc, argv);

  sim::SimOptions options;
  options.steps = cmd.steps;
  options.restore_in_place = restore_in_place;
  options.bugs.commit_previous_term_by_counting = cmd.bug == "commit-previous-term";
  options.bugs.forget_to_persist_vote = cmd.bug == "forget-vote";
  options.bugs.vote_without_log_check = cmd.bug == "vote-without-log-check";
  options.bugs.apply_before_commit = cmd.bug == "apply-before-commit";
  options.bugs.send_before_persist_always = cmd.bug == "send-before-persist";
  options.bugs.count_own_copy_before_durable = cmd.bug == "count-own-copy-early";

  std::string reproduce = (cmd.bug.empty() ? "" : " --bug " + cmd.bug) + (restore_in_place ? " --restore-in-place" : "");
  auto summary = [&cmd](const sim::SimStats& t, double secs) {
    auto u = [](std::uint64_t x) { return static_cast<unsigned long long>(x); };
    char line[1024];
    std::snprintf(line, sizeof line,
                  "%llu seeds x %d steps ok in %.1f s: %llu leaders elected, %llu entries committed, %llu writes acked, "
                  "%llu linearizable reads, %llu crashes, %llu partitions, %llu membership changes (%llu removed "
                  "members added back), %llu restores in place, %llu transfers, %llu snapshots installed, %llu "
                  "messages, max term %llu, worst liveness %d ticks",
                  u(cmd.seeds), cmd.steps, secs, u(t.leaders_elected), u(t.entries_committed), u(t.writes_acked),
                  u(t.reads_served), u(t.crashes), u(t.partitions), u(t.conf_changes), u(t.readds), u(t.restores),
                  u(t.transfers), u(t.snapshots_installed), u(t.messages_delivered), u(t.max_term), t.liveness_ticks);
    return std::string(line);
  };
  return fednode::sim_support::run_seed_command<sim::SimOptions, sim::SimResult, sim::SimStats>(
      "raft-sim", cmd, options, &sim::run_simulation,
      [](std::uint64_t first, std::uint64_t count, sim::SimOptions o, std::uint64_t* failing, sim::SimStats* totals) {
        return sim::run_seeds(first, count, std::move(o), failing, totals);
      },
      summary, reproduce);
}
