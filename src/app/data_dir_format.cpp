#include "fednode/app/data_dir_format.h"

#include <charconv>
#include <filesystem>

#include "fednode/util/file_io.h"

namespace fednode {
namespace {

constexpr std::string_view kPrefix = "fednode data dir format ";

// The files fednode 0.1 left in a dir it had started in (the first, cluster_id and boot_epoch,
// are written at the very first start).
bool holds_fednode_files(const std::string& dir) {
  std::error_code ec;
  for (const char* name : {"raft", "cluster_id", "boot_epoch", "models", "events.jsonl"}) {
    if (std::filesystem::exists(dir + "/" + name, ec)) return true;
  }
  return false;
}

// One step from format `from` to from + 1: what it does to the dir, for the log.
struct Migration {
  int from;
  const char* what;
  Status (*run)(const std::string& dir);
};

// 1 -> 2: fednode 0.2 reads every file of 0.1 as it is (the record framing, the log's and the
// snapshot's encodings, the models and the events did not change), so the step only stamps the
// dir. A later format that changes a file adds its step here, and a fixture of the previous
// release's dir to tests/upgrade.
constexpr Migration kMigrations[] = {
    {1, "fednode 0.1's files are read as they are", [](const std::string&) { return Status(); }},
};

Status parse(const std::string& path, const std::string& text, int* format) {
  std::string_view line(text);
  if (auto nl = line.find('\n'); nl != std::string_view::npos) line = line.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // written on another system
  if (line.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view number = line.substr(kPrefix.size());
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), *format);
    if (ec == std::errc() && end == number.data() + number.size() && *format >= 1) return {};
  }
  return Status::error(path + ": not a data dir format line ('" + std::string(line.substr(0, 60)) +
                       "'; expected '" + data_dir_format_line(kDataDirFormat) +
                       "'): restore the file or the dir from a backup; fednode will not guess a format");
}

}  // namespace

std::string data_dir_format_line(int format) { return std::string(kPrefix) + std::to_string(format); }

Status read_data_dir_format(const std::string& data_dir, int* found) {
  const std::string path = data_dir + "/format";
  std::error_code ec;
  int format = 0;
  if (std::filesystem::exists(path, ec)) {
    std::string text;
    if (Status s = read_file(path, &text); !s.ok()) return s;
    if (Status s = parse(path, text, &format); !s.ok()) return s;
    if (format > kDataDirFormat) {
      return Status::error(data_dir + " is in data dir format " + std::to_string(format) + " (" + path +
                           "), written by a later fednode; this one reads formats 1 to " +
                           std::to_string(kDataDirFormat) + ": run the later fednode on it");
    }
  } else if (ec) {
    return Status::error(path + ": " + ec.message());
  } else {
    format = holds_fednode_files(data_dir) ? 1 : 0;
  }
  *found = format;
  return {};
}

Status migrate_data_dir(const std::string& data_dir, int found, DataDirFormat* out) {
  int format = found;
  out->found = found;
  out->done.clear();
  for (const Migration& m : kMigrations) {
    if (format == 0 || m.from != format) continue;
    if (Status s = m.run(data_dir); !s.ok()) {
      return Status::error(data_dir + ": migrating data dir format " + std::to_string(m.from) + " to " +
                           std::to_string(m.from + 1) + " failed: " + s.message());
    }
    out->done += (out->done.empty() ? "" : "; ") + std::to_string(m.from) + " to " + std::to_string(m.from + 1) + ": " +
                 m.what;
    format = m.from + 1;
  }
  if (format != 0 && format != kDataDirFormat) {
    return Status::error(data_dir + ": no migration from data dir format " + std::to_string(format));
  }
  if (found != kDataDirFormat) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return Status::error(data_dir + ": " + ec.message());
    if (Status s = write_file_atomically(data_dir + "/format", data_dir_format_line(kDataDirFormat) + "\n"); !s.ok()) return s;
  }
  out->now = kDataDirFormat;
  return {};
}

Status open_data_dir_format(const std::string& data_dir, DataDirFormat* out) {
  int found = 0;
  if (Status s = read_data_dir_format(data_dir, &found); !s.ok()) return s;
  return migrate_data_dir(data_dir, found, out);
}

}  // namespace fednode
