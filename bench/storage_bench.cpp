// storage-bench: durable appends of 1 KiB entries on this machine's disk, one fsync per entry
// (single writer) against group commit (concurrent writers whose entries share an fsync).
//   storage-bench [--dir DIR] [--entries N] [--writers W]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fednode/storage/durable_storage.h"

using namespace fednode;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
  double per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double entries_per_sync = 0;
};

Figures summarize(std::vector<double> latencies_us, double seconds, std::uint64_t syncs) {
  std::sort(latencies_us.begin(), latencies_us.end());
  Figures f;
  f.per_second = static_cast<double>(latencies_us.size()) / seconds;
  f.p50_us = latencies_us[latencies_us.size() / 2];
  f.p99_us = latencies_us[latencies_us.size() * 99 / 100];
  f.entries_per_sync = syncs ? static_cast<double>(latencies_us.size()) / static_cast<double>(syncs) : 0;
  return f;
}

std::unique_ptr<storage::DurableStorage> fresh(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::unique_ptr<storage::DurableStorage> s;
  Status st = storage::DurableStorage::open(dir, {}, &s);
  if (!st.ok()) {
    std::fprintf(stderr, "storage-bench: %s\n", st.message().c_str());
    std::exit(1);
  }
  return s;
}

raft::Entry make_entry(raft::Index i) { return raft::Entry{1, i, raft::EntryType::kNormal, std::string(1024, 'x')}; }

Figures single_writer(const std::string& dir, int n) {
  auto s = fresh(dir);
  std::vector<double> lat;
  auto t0 = Clock::now();
  for (int i = 1; i <= n; ++i) {
    auto a = Clock::now();
    if (!s->append({make_entry(static_cast<raft::Index>(i))}).ok()) std::exit(1);
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return summarize(lat, secs, s->stats().syncs);
}

// Writers enqueue and wait; one syncer drains whatever is queued into one append (one fsync).
Figures group_commit(const std::string& dir, int n, int writers) {
  auto s = fresh(dir);
  std::mutex mu;
  std::condition_variable cv_work, cv_done;
  std::deque<Clock::time_point> queue;
  std::uint64_t submitted = 0, durable = 0;  // tickets: entries queued, entries synced
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(n));
  bool stop = false;
  raft::Index next = 1;
  std::thread syncer([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv_work.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty() && stop) return;
      std::deque<Clock::time_point> batch;
      batch.swap(queue);
      lock.unlock();
      std::vector<raft::Entry> entries;
      for (std::size_t i = 0; i < batch.size(); ++i) entries.push_back(make_entry(next++));
      if (!s->append(entries).ok()) std::exit(1);
      auto now = Clock::now();
      lock.lock();
      for (auto t : batch) lat.push_back(std::chrono::duration<double, std::micro>(now - t).count());
      durable += batch.size();
      cv_done.notify_all();
    }
  });
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = w; i < n; i += writers) {
        std::unique_lock lock(mu);
        std::uint64_t ticket = ++submitted;
        queue.push_back(Clock::now());
        cv_work.notify_one();
        cv_done.wait(lock, [&] { return durable >= ticket; });  // ours is on disk
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mu);
    stop = true;
    cv_work.notify_all();
  }
  syncer.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return summarize(lat, secs, s->stats().syncs);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "storage-bench-data";
  int entries = 2000;
  int writers = 32;
  CLI::App app{"Durable append benchmark (1 KiB entries, fdatasync before acknowledging)"};
  app.add_option("--dir", dir, "Scratch directory on the disk to measure (deleted)")->capture_default_str();
  app.add_option("--entries", entries, "Entries per mode")->capture_default_str();
  app.add_option("--writers", writers, "Concurrent writers for group commit")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Figures a = single_writer(dir, entries);
  Figures b = group_commit(dir, entries, writers);
  std::filesystem::remove_all(dir);
  std::printf("durable appends of 1 KiB entries in %s (%d entries per mode)\n", dir.c_str(), entries);
  std::printf("%-28s %12s %10s %10s %14s\n", "mode", "appends/s", "p50 us", "p99 us", "entries/fsync");
  std::printf("%-28s %12.0f %10.0f %10.0f %14.1f\n", "single writer, fsync each", a.per_second, a.p50_us, a.p99_us, a.entries_per_sync);
  char label[64];
  std::snprintf(label, sizeof label, "group commit, %d writers", writers);
  std::printf("%-28s %12.0f %10.0f %10.0f %14.1f\n", label, b.per_second, b.p50_us, b.p99_us, b.entries_per_sync);
  std::printf("group commit / single writer throughput: %.1fx\n", b.per_second / a.per_second);
  return 0;
}
