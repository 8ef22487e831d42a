#include "fednode/app/round/worker_thread.h"

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>

namespace fednode {
namespace {

using namespace std::chrono_literals;

// Work runs below the control loop: SCHED_BATCH (threads it starts inherit it), at the same nice.
TEST(WorkerThread, JobsRunAtALowerPriorityThanTheControlLoop) {
  asio::io_context loop;
  auto busy = asio::make_work_guard(loop);  // run_for waits for the job's result
  WorkerThread worker(loop, 4);
  int policy = -1, nice_value = 0;
  ASSERT_TRUE(worker.submit(
      [&]() -> std::function<void()> {
        policy = sched_getscheduler(0);
        errno = 0;
        nice_value = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
        return [&] { loop.stop(); };
      },
      {}));
  loop.run_for(5s);
  EXPECT_EQ(policy, SCHED_BATCH);
  EXPECT_EQ(nice_value, getpriority(PRIO_PROCESS, 0)) << "no nice on top: training keeps its share of a shared machine";
}

// The control loop keeps ticking while the worker is busy (heartbeats never stall on training),
// and the result comes back on the loop's thread.
TEST(WorkerThread, ControlLoopKeepsTickingWhileAJobRuns) {
  asio::io_context loop;
  WorkerThread worker(loop, 4);
  int ticks = 0;
  bool finished = false;
  std::thread::id result_thread;
  asio::steady_timer timer(loop);
  std::function<void()> tick = [&] {
    timer.expires_after(10ms);
    timer.async_wait([&](const std::error_code& ec) {
      if (ec) return;
      ++ticks;
      if (!finished || ticks < 5) tick();
    });
  };
  tick();
  ASSERT_TRUE(worker.submit([&] {
    auto end = std::chrono::steady_clock::now() + 400ms;
    volatile double x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1.0;  // busy, like training
    return std::function<void()>([&] {
      finished = true;
      result_thread = std::this_thread::get_id();
    });
  }));
  loop.run_for(2s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(result_thread, std::this_thread::get_id());
  EXPECT_GE(ticks, 20) << "the control loop stalled while the worker ran";
}

TEST(WorkerThread, QueueIsBounded) {
  asio::io_context loop;
  WorkerThread worker(loop, 1);
  std::atomic<bool> release{false};
  ASSERT_TRUE(worker.submit([&] {
    while (!release) std::this_thread::sleep_for(1ms);
    return std::function<void()>();
  }));
  // The first job is running (or about to); fill the single slot, then the next is refused.
  while (worker.queued() != 0) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(worker.submit([] { return std::function<void()>(); }));
  EXPECT_FALSE(worker.submit([] { return std::function<void()>(); }));
  release = true;
}

// A job that throws (a corrupt blob, a libtorch error) does not end the process: its failure
// reaches the control loop, and the worker goes on with the next job.
TEST(WorkerThread, AJobThatThrowsIsReportedAndTheWorkerGoesOn) {
  asio::io_context loop;
  WorkerThread worker(loop, 4);
  std::string failure;
  bool next_ran = false;
  ASSERT_TRUE(
      worker.submit([]() -> std::function<void()> { throw std::runtime_error("bad tensor shape"); },
                    [&](const std::string& what) { failure = what; }));
  ASSERT_TRUE(worker.submit([&] { return std::function<void()>([&] { next_ran = true; }); }));
  auto guard = asio::make_work_guard(loop);
  for (int i = 0; i < 200 && !next_ran; ++i) loop.run_for(10ms);
  EXPECT_EQ(failure, "bad tensor shape");
  EXPECT_TRUE(next_ran);
}

}  // namespace
}  // namespace fednode
