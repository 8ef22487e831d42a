#include "fednode/util/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace fednode {

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [text, level] : kLevels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

void init_logging(const std::string& node_id, spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("fednode");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e [" + node_id + "] %^%l%$ %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace fednode
