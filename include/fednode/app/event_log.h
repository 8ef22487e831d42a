#pragma once
// EventLog: JSON lines of what happened on this node (roles, rounds, metrics, traffic), appended
// to <data-dir>/events.jsonl and flushed per line, so scripts can follow a run while it goes.
// Every line has ts (Unix ms), node (HOST:PORT) and event. The latest lines are also kept in
// memory for the live page (recent(): every event; commits(): round_commit lines, which carry the
// traffic counters the page turns into bytes per round).
#include <cstdio>
#include <deque>
#include <string>

#include "fednode/util/json_line.h"
#include "fednode/util/status.h"

namespace fednode {

class EventLog {
 public:
  EventLog() = default;
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  Status open(const std::string& path, const std::string& node);
  void write(const std::string& event, const JsonLine& fields = JsonLine());
  const std::deque<std::string>& recent() const { return recent_; }
  const std::deque<std::string>& commits() const { return commits_; }

 private:
  static constexpr std::size_t kRecent = 100, kCommits = 1000;
  std::FILE* file_ = nullptr;
  std::string node_;
  std::deque<std::string> recent_, commits_;  // JSON objects, oldest first
};

}  // namespace fednode
