// EventLog: one JSON object a line, and a file that does not grow without bound: past its size
// it becomes events.jsonl.1 and a new one starts.
#include "fednode/app/event_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fednode {
namespace {

std::size_t lines_in(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    ++n;
  }
  return n;
}

TEST(EventLog, PastItsSizeTheFileMovesToDotOneAndANewOneStarts) {
  auto dir = std::filesystem::temp_directory_path() / ("fednode-events-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "events.jsonl").string();
  {
    EventLog log;
    ASSERT_TRUE(log.open(path, "127.0.0.1:5000", 2000).ok());
    for (int i = 0; i < 100; ++i) log.write("round_commit", JsonLine().add("round", i));
    EXPECT_EQ(log.recent().size(), 100u);  // the page's memory is not the file's
  }
  EXPECT_LE(std::filesystem::file_size(path), 2000u);
  EXPECT_LE(std::filesystem::file_size(path + ".1"), 2000u);
  EXPECT_FALSE(std::filesystem::exists(path + ".2"));
  std::size_t kept = lines_in(path) + lines_in(path + ".1");
  EXPECT_GT(kept, 10u);
  EXPECT_LT(kept, 100u);
  // Opened again, it counts what the file holds and rotates on time.
  std::uintmax_t before = std::filesystem::file_size(path);
  {
    EventLog log;
    ASSERT_TRUE(log.open(path, "127.0.0.1:5000", 2000).ok());
    for (int i = 0; i < 100; ++i) log.write("round_commit", JsonLine().add("round", i));
  }
  EXPECT_LE(std::filesystem::file_size(path), 2000u);
  EXPECT_GT(before, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fednode
