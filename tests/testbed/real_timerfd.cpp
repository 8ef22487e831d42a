// Preloaded before libfaketime on the hosts whose wall clock a test moves: timerfd calls go
// straight to the kernel. libfaketime (0.9.10) shifts the absolute expiry of every timerfd by the
// fake wall-clock offset, even with FAKETIME_DONT_FAKE_MONOTONIC=1 and although asio's timerfd
// runs on CLOCK_MONOTONIC: asio arms a timer that is already due with TFD_TIMER_ABSTIME and 1 ns,
// which 300 s ahead becomes -300 s, and the kernel refuses it (EINVAL). The timer is never armed,
// the control loop sleeps until a datagram wakes it, and a leader stops sending heartbeats. A
// real machine whose wall clock is off has monotonic timers that are not: this keeps the
// test's machine like a real one. fednode makes no CLOCK_REALTIME timerfd.
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

extern "C" {

int timerfd_settime(int fd, int flags, const struct itimerspec* new_value, struct itimerspec* old_value) {
  return static_cast<int>(::syscall(SYS_timerfd_settime, fd, flags, new_value, old_value));
}

int timerfd_gettime(int fd, struct itimerspec* current) {
  return static_cast<int>(::syscall(SYS_timerfd_gettime, fd, current));
}

}  // extern "C"
