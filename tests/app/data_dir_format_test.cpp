// The data dir's format file: new dirs stamped, fednode 0.1's dirs (no file) migrated, later or
// unreadable formats refused with one line naming the file, and nothing written when refused.
#include "fednode/app/data_dir_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fednode/util/file_io.h"

namespace fednode {
namespace {

class DataDirFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("fednode-format-" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string format_file() const {
    std::string text;
    EXPECT_TRUE(read_file(dir_ + "/format", &text).ok());
    return text;
  }
  std::string dir_;
};

TEST_F(DataDirFormatTest, ANewDirIsStampedWithTheCurrentFormat) {
  DataDirFormat f;
  ASSERT_TRUE(open_data_dir_format(dir_, &f).ok());
  EXPECT_EQ(f.found, 0);
  EXPECT_EQ(f.now, kDataDirFormat);
  EXPECT_EQ(f.done, "");
  EXPECT_EQ(format_file(), "fednode data dir format 2\n");
  DataDirFormat again;  // the next start finds it current and migrates nothing
  ASSERT_TRUE(open_data_dir_format(dir_, &again).ok());
  EXPECT_EQ(again.found, kDataDirFormat);
  EXPECT_EQ(again.done, "");
}

TEST_F(DataDirFormatTest, ADirOfFednode01IsFormat1AndIsMigrated) {
  for (const char* name : {"raft", "cluster_id", "boot_epoch", "models", "events.jsonl"}) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(write_file_atomically(dir_ + "/" + name, "x").ok());
    DataDirFormat f;
    ASSERT_TRUE(open_data_dir_format(dir_, &f).ok()) << name;
    EXPECT_EQ(f.found, 1) << name;
    EXPECT_EQ(f.now, 2);
    EXPECT_EQ(f.done, "1 to 2: fednode 0.1's files are read as they are");
    EXPECT_EQ(format_file(), "fednode data dir format 2\n");
  }
}

// Reading writes nothing (run_peer checks the cluster id before it migrates); a line written with
// CRLF reads the same.
TEST_F(DataDirFormatTest, ReadingWritesNothing) {
  std::filesystem::create_directories(dir_);
  ASSERT_TRUE(write_file_atomically(dir_ + "/cluster_id", "c\n").ok());
  int found = -1;
  ASSERT_TRUE(read_data_dir_format(dir_, &found).ok());
  EXPECT_EQ(found, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/format"));
  ASSERT_TRUE(read_data_dir_format(dir_ + "/absent", &found).ok());
  EXPECT_EQ(found, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/absent"));
  ASSERT_TRUE(write_file_atomically(dir_ + "/format", "fednode data dir format 2\r\n").ok());
  ASSERT_TRUE(read_data_dir_format(dir_, &found).ok());
  EXPECT_EQ(found, 2);
}

TEST_F(DataDirFormatTest, ALaterFormatIsRefusedAndLeftAsItIs) {
  std::filesystem::create_directories(dir_);
  ASSERT_TRUE(write_file_atomically(dir_ + "/format", "fednode data dir format 3\n").ok());
  DataDirFormat f;
  Status s = open_data_dir_format(dir_, &f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), dir_ + " is in data dir format 3 (" + dir_ +
                             "/format), written by a later fednode; this one reads formats 1 to 2: run the later "
                             "fednode on it");
  EXPECT_EQ(format_file(), "fednode data dir format 3\n");
}

TEST_F(DataDirFormatTest, AFileThatIsNotAFormatLineIsRefused) {
  std::filesystem::create_directories(dir_);
  for (const char* text : {"", "\n", "fednode data dir format\n", "fednode data dir format 0\n",
                           "fednode data dir format -1\n", "fednode data dir format 2x\n",
                           "fednode data dir format 99999999999999999999\n", "format 2\n"}) {
    ASSERT_TRUE(write_file_atomically(dir_ + "/format", text).ok());
    DataDirFormat f;
    Status s = open_data_dir_format(dir_, &f);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.message().find(dir_ + "/format: not a data dir format line"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("expected 'fednode data dir format 2'"), std::string::npos) << s.message();
    EXPECT_EQ(format_file(), text);  // left for the operator to look at
  }
}

TEST_F(DataDirFormatTest, AnUnreadableFormatPathIsRefused) {
  std::filesystem::create_directories(dir_ + "/format");  // a directory in its place
  DataDirFormat f;
  Status s = open_data_dir_format(dir_, &f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir_ + "/format"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fednode
