// raft-network-timing: the table of docs/running-over-the-internet.md. For each round trip and
// loss, an hour (by default) of a 3-voter group on the simulated path, with the lan and wan
// timing: elections after the first leader, followers that timed out (pre-vote campaigns that
// changed nothing), leader step-downs, messages a second; then the same hour with the leader cut
// off every 30 s for 10 s: the time from the cut to another leader's first commit.
//   raft-network-timing [--seconds S] [--seeds N] [--voters V] [--jitter-percent J]
#include <cstdio>

#include <CLI/CLI.hpp>

#include "network_timing.h"

int main(int argc, char** argv) {
  using namespace fednode::raft;
  double seconds = 3600;
  int seeds = 1, voters = 3;
  unsigned jitter_percent = 10;
  CLI::App app{"Raft's timing presets against simulated round trips and loss"};
  app.add_option("--seconds", seconds, "simulated seconds per case")->capture_default_str();
  app.add_option("--seeds", seeds, "runs per case")->capture_default_str();
  app.add_option("--voters", voters)->capture_default_str();
  app.add_option("--jitter-percent", jitter_percent, "one-way jitter, in % of the round trip")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::printf("preset\trtt_ms\tloss_pct\tseeds\telections\tcampaigns\tstep_downs\tleader_changes\tcommitted_pct\tmessages_per_s\tfirst_leader_s\tfailovers\tfailover_mean_s\tfailover_max_s\n");
  for (NetworkPreset preset : {NetworkPreset::kLan, NetworkPreset::kWan}) {
    for (unsigned rtt : {1u, 50u, 100u, 200u}) {
      for (double loss : {0.0, 0.01, 0.05}) {
        std::uint64_t elections = 0, campaigns = 0, step_downs = 0, changes = 0, proposed = 0, committed = 0;
        double messages = 0, first = 0, fo_mean = 0, fo_max = 0;
        std::uint64_t failovers = 0;
        for (int s = 1; s <= seeds; ++s) {
          sim::TimingRun run;
          run.timing = timing_preset(preset);
          run.path = {rtt, rtt * jitter_percent / 100, loss};
          run.voters = voters;
          run.seconds = seconds;
          run.seed = static_cast<std::uint64_t>(s);
          auto o = sim::run_network_timing(run);
          elections += o.elections;
          step_downs += o.step_downs;
          campaigns += o.campaigns;
          changes += o.leader_changes;
          proposed += o.proposed;
          committed += o.committed;
          messages += o.messages_per_s / seeds;
          first = std::max(first, o.first_leader_s);
          run.crash_every_s = 30;
          run.down_s = 10;
          auto c = sim::run_network_timing(run);
          fo_mean += c.failover_mean_s * static_cast<double>(c.failovers);
          failovers += c.failovers;
          fo_max = std::max(fo_max, c.failover_max_s);
        }
        std::printf("%s\t%u\t%.0f\t%d\t%llu\t%llu\t%llu\t%llu\t%.1f\t%.0f\t%.2f\t%llu\t%.2f\t%.2f\n", network_preset_name(preset), rtt, loss * 100,
                    seeds, static_cast<unsigned long long>(elections), static_cast<unsigned long long>(campaigns),
                    static_cast<unsigned long long>(step_downs),
                    static_cast<unsigned long long>(changes), proposed ? 100.0 * committed / proposed : 0.0, messages,
                    first, static_cast<unsigned long long>(failovers), failovers ? fo_mean / static_cast<double>(failovers) : 0.0,
                    fo_max);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
