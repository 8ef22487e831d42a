#include "fednode/app/round/worker_thread.h"

#include <pthread.h>
#include <sched.h>

#include <spdlog/spdlog.h>

namespace fednode {
namespace {

// Workers (training, aggregation, hashing, transfers) yield to the control loop: SCHED_BATCH for
// this thread and the threads it starts (libtorch's), so that a waking control loop preempts a
// training epoch rather than wait for its time slice. No nice on top: a nice of 10 made training
// four times slower beside other busy processes (10 rounds in 51.3 s against 12.7 s, with a CPU
// hog per core), a price for every user of a shared machine.
void lower_priority() {
  sched_param none{};
  if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &none) != 0) spdlog::debug("worker: SCHED_BATCH refused");
}

}  // namespace

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

bool WorkerThread::submit(Job job, Failure on_failure) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.emplace_back(std::move(job), std::move(on_failure));
  }
  cv_.notify_one();
  return true;
}

std::size_t WorkerThread::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void WorkerThread::run() {
  lower_priority();
  for (;;) {
    std::pair<Job, Failure> next;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      next = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::function<void()> done;
    std::string failed;
    try {
      done = next.first();
    } catch (const std::exception& e) {
      failed = e.what();
    } catch (...) {
      failed = "unknown exception";
    }
    if (!failed.empty()) {
      spdlog::error("worker job failed: {}", failed);
      if (next.second) asio::post(loop_, [f = std::move(next.second), failed] { f(failed); });
      continue;
    }
    if (done) asio::post(loop_, std::move(done));
  }
}

}  // namespace fednode
