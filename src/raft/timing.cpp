#include "fednode/raft/timing.h"

#include "fednode/raft/node.h"

namespace fednode::raft {

std::optional<NetworkPreset> parse_network_preset(std::string_view name) {
  if (name == "lan") return NetworkPreset::kLan;
  if (name == "wan") return NetworkPreset::kWan;
  return std::nullopt;
}

const char* network_preset_name(NetworkPreset preset) { return preset == NetworkPreset::kWan ? "wan" : "lan"; }

TimingMs timing_preset(NetworkPreset preset) {
  TimingMs t;
  if (preset == NetworkPreset::kWan) {
    t.heartbeat = 100;
    t.heartbeat_resend = 0;
    t.election_min = 1000;
    t.election_max = 2000;
  }
  return t;
}

void apply_timing(const TimingMs& timing, Config* config) {
  config->heartbeat_ticks = static_cast<int>(timing.heartbeat / timing.tick);
  config->heartbeat_resend_ticks = static_cast<int>(timing.heartbeat_resend / timing.tick);
  config->election_ticks_min = static_cast<int>(timing.election_min / timing.tick);
  config->election_ticks_max = static_cast<int>(timing.election_max / timing.tick);
}

}  // namespace fednode::raft
