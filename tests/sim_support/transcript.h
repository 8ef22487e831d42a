#pragma once
// Data-driven transcript tests, in the manner of etcd's raft testdata: a file holds steps, each
// a command line, a line "----", then the output the command must print, up to a blank line.
// Lines starting with '#' between steps are comments. The test runs every command through a
// rig, compares what it printed, and reports each difference with the file and line. A command
// the rig cannot run (it throws) is a failure, whatever the file expects, and so is a file
// without steps. With FEDNODE_REWRITE_TRANSCRIPTS=1 it writes the printed outputs back into the
// file instead and fails, so that a run left in that mode never passes: read the diff, then run
// again without it.
#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fednode::transcript {

// A command line: its name, positional words and key=value arguments.
struct Command {
  std::string name;
  std::vector<std::string> words;
  std::map<std::string, std::string> args;
  std::string line;
  int line_no = 0;

  std::string arg(const std::string& key, const std::string& fallback = "") const {
    auto it = args.find(key);
    return it == args.end() ? fallback : it->second;
  }
  std::uint64_t number(const std::string& key, std::uint64_t fallback = 0) const {
    auto it = args.find(key);
    return it == args.end() ? fallback : std::stoull(it->second);
  }
  std::uint64_t word_number(std::size_t i) const {
    if (i >= words.size()) throw std::runtime_error(name + ": argument " + std::to_string(i + 1) + " missing");
    return std::stoull(words[i]);
  }
  // Throws on a key=value argument not in `known` (a typo would otherwise run with a default).
  void only(std::initializer_list<const char*> known) const {
    for (const auto& [key, value] : args) {
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        throw std::runtime_error(name + ": unknown argument '" + key + "'");
      }
    }
  }
};

inline Command parse_command(const std::string& line, int line_no) {
  Command c;
  c.line = line;
  c.line_no = line_no;
  std::istringstream in(line);
  in >> c.name;
  for (std::string w; in >> w;) {
    auto eq = w.find('=');
    if (eq == std::string::npos) c.words.push_back(w);
    else c.args[w.substr(0, eq)] = w.substr(eq + 1);
  }
  return c;
}

// Runs `file` through `run` (the command's printed output, lines ending in '\n'; "ok\n" when
// there is nothing to say). A rig that cannot run a command throws std::runtime_error.
inline void run_file(const std::filesystem::path& file, const std::function<std::string(const Command&)>& run) {
  std::ifstream in(file);
  ASSERT_TRUE(in) << "cannot read " << file;
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<std::string> rewritten;
  const char* rewrite_env = std::getenv("FEDNODE_REWRITE_TRANSCRIPTS");
  bool rewrite = rewrite_env && std::string(rewrite_env) == "1";
  int steps = 0;
  std::size_t i = 0;
  while (i < lines.size()) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == '#') {
      rewritten.push_back(l);
      ++i;
      continue;
    }
    Command cmd = parse_command(l, static_cast<int>(i + 1));
    rewritten.push_back(l);
    ++i;
    ASSERT_TRUE(i < lines.size() && lines[i] == "----") << file.filename().string() << ":" << cmd.line_no
                                                        << ": a command is followed by a line '----'";
    rewritten.push_back("----");
    ++i;
    std::string expected;
    while (i < lines.size() && !lines[i].empty()) expected += lines[i++] + "\n";
    ++steps;
    std::string actual;
    try {
      actual = run(cmd);
    } catch (const std::exception& e) {
      actual = std::string("error: ") + e.what() + "\n";
      ADD_FAILURE() << file.filename().string() << ":" << cmd.line_no << ": the rig cannot run '" << cmd.line
                    << "': " << e.what();
    }
    if (actual.empty()) actual = "ok\n";
    std::istringstream out(actual);
    for (std::string a; std::getline(out, a);) rewritten.push_back(a);
    if (!rewrite) {
      EXPECT_EQ(expected, actual) << file.filename().string() << ":" << cmd.line_no << ": " << cmd.line;
    }
  }
  EXPECT_GT(steps, 0) << file.filename().string() << " has no steps";
  if (rewrite) {
    std::ofstream o(file);
    for (const auto& r : rewritten) o << r << "\n";
    ADD_FAILURE() << "rewrote " << file.filename().string()
                  << " (FEDNODE_REWRITE_TRANSCRIPTS=1): read the diff, then run again without it";
  }
}

// Every *.txt in `dir`, sorted by name.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".txt") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs every transcript in `dir`, each on a fresh Rig (a class with std::string run(const Command&)).
template <typename Rig>
void run_every_file(const std::filesystem::path& dir) {
  auto files = files_in(dir);
  ASSERT_FALSE(files.empty()) << "no transcripts in " << dir;
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    Rig rig;
    run_file(f, [&](const Command& c) { return rig.run(c); });
  }
}

}  // namespace fednode::transcript
