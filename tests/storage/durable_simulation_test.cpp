// The Raft simulation harness on top of DurableStorage: every node keeps its log in files, a
// crash reopens them (recovery runs on every restart), and some crashes leave a torn write
// (random bytes of an unsynced record) at the tail of the last segment. A leader's background
// writes (save_async) not yet reported durable are cut off the segment at a crash.
#include <gtest/gtest.h>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>

#include "fednode/storage/durable_storage.h"
#include "fednode/storage/raft_codec.h"
#include "fednode/storage/record_file.h"
#include "simulation.h"
#include "temp_dir.h"

namespace fednode::storage {
namespace {

namespace fs = std::filesystem;

class DurableDisk : public raft::sim::SimDisk {
 public:
  DurableDisk(std::string dir, std::uint64_t seed) : dir_(std::move(dir)), rng_(seed) {
    options_.sync = false;  // crashes are simulated by reopening; see DurableOptions::sync
    options_.segment_bytes = 2048;
    open();
  }
  raft::Storage& storage() override { return *storage_; }
  void save(const raft::Ready& rd) override {
    check(storage_->save(rd));
    pending_.clear();  // save() syncs the background writes before its own
  }
  std::uint64_t save_async(const raft::Ready& rd) override {
    auto [path, size] = tail();
    SyncJob job;
    check(storage_->save_async(rd, &job));
    if (job.fd < 0) {
      pending_.clear();  // saved as save() does
      return written_;
    }
    ::close(job.fd);
    if (job.path != path) throw std::runtime_error("a background write went to a new segment " + job.path);
    pending_.push_back({++written_, path, size});
    ++async_writes_;
    return written_;
  }
  void complete_async(std::uint64_t through) override {
    while (!pending_.empty() && pending_.front().write <= through) pending_.pop_front();
  }
  void create_snapshot(raft::Index index, const raft::ConfState& conf, std::string data) override {
    check(storage_->create_snapshot(index, conf, std::move(data)));
  }
  void bootstrap(const std::vector<raft::Entry>& entries, const raft::HardState& hs) override {
    check(storage_->append(entries));
    check(storage_->set_hard_state(hs, true));
  }
  void reopen() override {
    storage_.reset();
    if (!pending_.empty() && fs::exists(pending_.front().path)) {
      fs::resize_file(pending_.front().path, pending_.front().size);  // the unsynced writes are gone
      ++lost_;
    }
    pending_.clear();
    rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
    if ((rng_ >> 60) < 6) tear_tail();
    open();
  }
  bool back_up() override {
    std::error_code ec;
    fs::remove_all(backup_dir(), ec);
    fs::copy(dir_, backup_dir(), fs::copy_options::recursive);
    if (!pending_.empty()) {  // background writes not yet durable are not in the copy
      fs::path copy = fs::path(backup_dir()) / fs::path(pending_.front().path).filename();
      if (fs::exists(copy)) fs::resize_file(copy, pending_.front().size);
    }
    return true;
  }
  bool restore_backup() override {
    if (!fs::exists(backup_dir())) return false;
    storage_.reset();
    pending_.clear();
    fs::remove_all(dir_);
    fs::copy(backup_dir(), dir_, fs::copy_options::recursive);
    open();
    return true;
  }
  std::uint64_t torn_tails() const { return torn_; }
  std::uint64_t async_writes() const { return async_writes_; }
  std::uint64_t lost_background_writes() const { return lost_; }

 private:
  std::string backup_dir() const { return dir_ + ".copy"; }
  void open() {
    Status st = DurableStorage::open(dir_, options_, &storage_);
    if (!st.ok()) throw std::runtime_error("recovery failed: " + st.message());
    torn_ += storage_->stats().torn_tails_truncated;
  }
  void check(const Status& st) {
    if (!st.ok()) throw std::runtime_error(st.message());
  }
  std::pair<std::string, std::uintmax_t> tail() const {
    std::string last;
    for (const auto& f : fs::directory_iterator(dir_)) {
      if (f.path().extension() == ".seg" && f.path().string() > last) last = f.path().string();
    }
    return {last, last.empty() ? 0 : fs::file_size(last)};
  }
  // What an in-flight, unsynced append leaves behind: a prefix of the record being written, or
  // zeros where the file grew before its data reached the disk.
  void tear_tail() {
    std::vector<std::string> segs;
    for (const auto& f : fs::directory_iterator(dir_)) {
      if (f.path().extension() == ".seg") segs.push_back(f.path().string());
    }
    if (segs.empty()) return;
    std::sort(segs.begin(), segs.end());
    raft::Entry ghost{99, 1u << 30, raft::EntryType::kNormal, "never acknowledged"};
    std::string record = frame_record(encode_entry(ghost));
    std::size_t cut = 1 + (rng_ >> 40) % (record.size() - 1);
    std::string tail = (rng_ >> 59) & 1 ? std::string(cut, '\0') : record.substr(0, cut);
    std::ofstream(segs.back(), std::ios::binary | std::ios::app) << tail;
  }

  std::string dir_;
  std::uint64_t rng_;
  DurableOptions options_;
  std::unique_ptr<DurableStorage> storage_;
  std::uint64_t torn_ = 0;
  struct Pending {
    std::uint64_t write;  // save_async's number
    std::string path;     // the segment written
    std::uintmax_t size;  // its size before the write
  };
  std::deque<Pending> pending_;  // background writes not yet durable, oldest first
  std::uint64_t written_ = 0, async_writes_ = 0, lost_ = 0;
};

TEST(RaftSimulationOnDurableStorage, SafetyWithRecoveryAndTornWrites) {
  testing::TempDir dir;
  std::uint64_t torn = 0, async_writes = 0, lost = 0;
  std::vector<DurableDisk*> disks;
  raft::sim::SimOptions options;
  int run = 0;
  options.disk = [&](raft::NodeId id) -> std::unique_ptr<raft::sim::SimDisk> {
    auto disk = std::make_unique<DurableDisk>(dir.sub("run" + std::to_string(run) + "-node" + std::to_string(id)), id * 7919 + run);
    disks.push_back(disk.get());
    return disk;
  };
  constexpr std::uint64_t kSeeds = 150;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed, ++run) {
    disks.clear();
    options.seed = seed;
    raft::sim::SimResult r;
    try {
      r = raft::sim::run_simulation(options);
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << ": storage error: " << e.what();
    }
    for (auto* d : disks) {
      torn += d->torn_tails();
      async_writes += d->async_writes();
      lost += d->lost_background_writes();
    }
    ASSERT_TRUE(r.ok) << r.failure;
    fs::remove_all(dir.path());
    fs::create_directories(dir.path());
  }
  EXPECT_GT(torn, 10u) << "torn tails were not exercised";
  EXPECT_GT(async_writes, 1000u) << "background writes were not exercised";
  EXPECT_GT(lost, 10u) << "crashes never lost a background write";
}

// Data dirs copied aside and put back in place, on files: DurableStorage opens every restored
// dir (recovery never fails on one), and the harness catches what the rollback breaks, as on the
// memory disk (see RaftSimulationTeeth.CatchesARestoreInPlace).
TEST(RaftSimulationOnDurableStorage, ARestoredDirOpensAndWhatItsRollbackBreaksIsCaught) {
  testing::TempDir dir;
  raft::sim::SimOptions options;
  options.restore_in_place = true;
  int run = 0;
  options.disk = [&](raft::NodeId id) -> std::unique_ptr<raft::sim::SimDisk> {
    return std::make_unique<DurableDisk>(dir.sub("run" + std::to_string(run) + "-node" + std::to_string(id)), id * 7919 + run);
  };
  std::uint64_t restores = 0, caught = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed, ++run) {
    options.seed = seed;
    raft::sim::SimResult r;
    try {
      r = raft::sim::run_simulation(options);
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << ": a restored dir did not open: " << e.what();
    }
    restores += r.stats.restores;
    if (!r.ok && r.failure.find("liveness") == std::string::npos) ++caught;
    fs::remove_all(dir.path());
    fs::create_directories(dir.path());
  }
  EXPECT_GT(restores, 20u) << "restores were not exercised";
  EXPECT_GT(caught, 0u) << "no rollback was caught in 60 seeds";
}

}  // namespace
}  // namespace fednode::storage
