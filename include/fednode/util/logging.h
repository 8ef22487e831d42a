#pragma once
// Logging set-up: every line carries the node id, so logs of several peers can be merged.
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace fednode {

// Parses trace|debug|info|warn|error|critical|off; nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Installs the default logger: stderr, pattern "time [node] level message".
void init_logging(const std::string& node_id, spdlog::level::level_enum level);

}  // namespace fednode
