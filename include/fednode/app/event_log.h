#pragma once
// EventLog: JSON lines of what happened on this node (roles, rounds, metrics, traffic), appended
// to <data-dir>/events.jsonl and flushed per line, so scripts can follow a run while it goes.
// Every line has ts (Unix ms), node (HOST:PORT) and event.
#include <cstdio>
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

 private:
  std::FILE* file_ = nullptr;
  std::string node_;
};

}  // namespace fednode
