#include "fednode/storage/background_sync.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace fednode::storage {

BackgroundSync::BackgroundSync(std::function<void(const SyncReport&)> report, FileOps* ops)
    : report_(std::move(report)), ops_(ops ? *ops : posix_file_ops()), thread_([this] { run(); }) {}

BackgroundSync::~BackgroundSync() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void BackgroundSync::submit(SyncJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void BackgroundSync::run() {
  for (;;) {
    std::deque<SyncJob> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything handed over is synced
      batch.swap(queue_);
    }
    const SyncJob& newest = batch.back();
    SyncReport r;
    r.index = newest.index;
    r.term = newest.term;
    auto t0 = std::chrono::steady_clock::now();
    {
      std::unique_lock<std::mutex> held;
      if (newest.failure) held = std::unique_lock<std::mutex>(newest.failure->mu);
      if (ops_.fdatasync(newest.fd) != 0) {
        r.error = "cannot fdatasync " + newest.path + ": " + std::strerror(errno);
        if (newest.failure) {
          newest.failure->error = r.error;
          newest.failure->failed = true;
        }
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& job : batch) ::close(job.fd);
    report_(r);
  }
}

}  // namespace fednode::storage
