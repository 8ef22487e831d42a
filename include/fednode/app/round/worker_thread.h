#pragma once
// WorkerThread: runs heavy jobs (training, evaluation, aggregation, hashing big blobs) off the
// control loop, one at a time, from a bounded queue; each job's result is handed back to the
// control loop's io_context with asio::post, so the loop never waits and never shares state
// with the worker. submit() is called from the control loop only.
#include <asio.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace fednode {

class WorkerThread {
 public:
  // A job runs on the worker and returns the continuation to run on the control loop.
  using Job = std::function<std::function<void()>()>;

  WorkerThread(asio::io_context& loop, std::size_t max_queued);
  ~WorkerThread();  // finishes the running job, drops queued ones
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Runs on the control loop when a job throws instead of returning its continuation.
  using Failure = std::function<void(const std::string& what)>;

  // False when the queue is full (the caller decides: retry later or give up). A job that throws
  // never ends the process: its failure is logged and `on_failure`, if given, is posted.
  bool submit(Job job, Failure on_failure = {});
  std::size_t queued() const;

 private:
  void run();

  asio::io_context& loop_;
  std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Job, Failure>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fednode
