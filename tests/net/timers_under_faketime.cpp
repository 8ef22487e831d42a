// An asio loop's due timers fire: run by timers_under_faketime.sh under libfaketime, as the
// skew tests run fednode (see tests/testbed/real_timerfd.cpp for why that needs care). Exits 0
// when every timer fired, 1 (with the reason) when one did not within 5 s.
#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

int main() {
  asio::io_context io;
  asio::steady_timer timer(io);
  int fired = 0;
  constexpr int kTimers = 50;
  // Each timer is scheduled already due (the case a busy loop meets), then the next one is.
  std::function<void()> arm = [&] {
    timer.expires_at(asio::steady_timer::clock_type::now() - std::chrono::milliseconds(1));
    timer.async_wait([&](const std::error_code&) {
      if (++fired < kTimers) arm();
    });
  };
  arm();
  std::thread watchdog([&] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    if (fired < kTimers) {
      std::printf("FAIL: %d of %d due timers fired in 5 s: the loop was not woken for a due timer\n", fired, kTimers);
      std::fflush(stdout);
      std::_Exit(1);
    }
  });
  io.run();
  watchdog.detach();
  std::printf("ok: %d of %d due timers fired\n", fired, kTimers);
  return 0;
}
