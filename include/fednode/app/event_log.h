#pragma once
// EventLog: JSON lines of what happened on this node (roles, rounds, metrics, traffic), appended
// to <data-dir>/events.jsonl and flushed per line, so scripts can follow a run while it goes.
// A node runs for months (a round's lines are about 10 KB with five members): past max_bytes the
// file becomes events.jsonl.1 (replacing the one before) and a new one starts, so the events
// take at most twice max_bytes of the data dir.
// Every line has ts (Unix ms), node (HOST:PORT) and event. The latest lines are also kept in
// memory for the live page (recent(): every event; commits(): round_commit lines, which carry the
// traffic counters the page turns into bytes per round).
#include <cstdint>
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
  static constexpr std::uint64_t kDefaultMaxBytes = 64ull << 20;
  Status open(const std::string& path, const std::string& node, std::uint64_t max_bytes = kDefaultMaxBytes);
  void write(const std::string& event, const JsonLine& fields = JsonLine());
  const std::deque<std::string>& recent() const { return recent_; }
  const std::deque<std::string>& commits() const { return commits_; }

 private:
  static constexpr std::size_t kRecent = 100, kCommits = 1000;
  void rotate();
  std::FILE* file_ = nullptr;
  std::string path_, node_;
  std::uint64_t size_ = 0, max_bytes_ = kDefaultMaxBytes;
  std::deque<std::string> recent_, commits_;  // JSON objects, oldest first
};

}  // namespace fednode
