#pragma once
// Raft's timing in milliseconds, as an operator sets it, and the presets `--network` names.
//   lan  heartbeat 100 ms, election timeout 150-300 ms: a leader's death is noticed within
//        0.3 s on a network whose round trips take a few milliseconds.
//   wan  heartbeat 100 ms, election timeout 1-2 s: no election for a lost heartbeat or a slow
//        path, with round trips up to 200 ms and 5 % loss (tests/raft/sim/network_timing_test.cpp
//        runs an hour of each case) and failover in about 2 s where lan fails over slowly or not
//        at all past 150 ms round trips (its vote requests come back after the next timeout).
// The core counts ticks; apply_timing turns milliseconds into them.
#include <optional>
#include <string_view>

namespace fednode::raft {

struct Config;

struct TimingMs {
  unsigned tick = 10;
  unsigned heartbeat = 100;
  unsigned heartbeat_resend = 20;  // 0: never (Config::heartbeat_resend_ticks)
  unsigned election_min = 150;
  unsigned election_max = 300;
};

enum class NetworkPreset { kLan, kWan };

std::optional<NetworkPreset> parse_network_preset(std::string_view name);
const char* network_preset_name(NetworkPreset preset);
TimingMs timing_preset(NetworkPreset preset);

// Sets config's tick counts from `timing` (each a whole number of ticks, rounded down).
void apply_timing(const TimingMs& timing, Config* config);

}  // namespace fednode::raft
