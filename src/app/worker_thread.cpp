#include "fednode/app/worker_thread.h"

namespace fednode {

WorkerThread::WorkerThread(asio::io_context& loop, std::size_t max_queued)
    : loop_(loop), max_queued_(max_queued), thread_([this] { run(); }) {}

WorkerThread::~WorkerThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

bool WorkerThread::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

std::size_t WorkerThread::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void WorkerThread::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::function<void()> done = job();
    if (done) asio::post(loop_, std::move(done));
  }
}

}  // namespace fednode
