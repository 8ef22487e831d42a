#include "fednode/app/event_log.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fednode/fl/round_state.h"

namespace fednode {

EventLog::~EventLog() {
  if (file_) std::fclose(file_);
}

Status EventLog::open(const std::string& path, const std::string& node, std::uint64_t max_bytes) {
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return Status::error(path + ": " + std::strerror(errno));
  std::fseek(file_, 0, SEEK_END);
  long at = std::ftell(file_);
  size_ = at > 0 ? static_cast<std::uint64_t>(at) : 0;
  path_ = path;
  node_ = node;
  max_bytes_ = max_bytes;
  return {};
}

void EventLog::rotate() {
  std::fclose(file_);
  std::string old = path_ + ".1";
  if (std::rename(path_.c_str(), old.c_str()) != 0) {
    spdlog::warn("events: cannot move {} to {}: {}; the file grows on", path_, old, std::strerror(errno));
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) spdlog::error("events: cannot open {} again: {}; no more events are written", path_, std::strerror(errno));
  size_ = 0;
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
  if (size_ > 0 && size_ + line.size() > max_bytes_) {
    rotate();
    if (!file_) return;
  }
  std::fputs(line.c_str(), file_);
  std::fflush(file_);
  size_ += line.size();
}

}  // namespace fednode
