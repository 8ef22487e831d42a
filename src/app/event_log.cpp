#include "fednode/app/event_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fednode/fl/round_state.h"

namespace fednode {

EventLog::~EventLog() {
  if (file_) std::fclose(file_);
}

Status EventLog::open(const std::string& path, const std::string& node) {
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return Status::error(path + ": " + std::strerror(errno));
  node_ = node;
  return {};
}

void EventLog::write(const std::string& event, const JsonLine& fields) {
  if (!file_) return;
  // ts (wall clock) is for people; mono_ms (this machine's monotonic clock) is for durations
  // between events of one node, or of nodes that share a kernel (the namespace testbed).
  auto mono = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch());
  std::string line = "{\"ts\":" + std::to_string(fl::unix_ms()) + ",\"mono_ms\":" + std::to_string(mono.count()) +
                     ",\"node\":" + json_quote(node_) + ",\"event\":" + json_quote(event);
  std::string rest = fields.str();
  if (rest.size() > 2) {
    line += ',';
    line.append(rest, 1, rest.size() - 2);
  }
  line += "}";
  auto keep = [&line](std::deque<std::string>& ring, std::size_t most) {
    ring.push_back(line);
    if (ring.size() > most) ring.pop_front();
  };
  keep(recent_, kRecent);
  if (event == "round_commit") keep(commits_, kCommits);
  line += "\n";
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
}

}  // namespace fednode
