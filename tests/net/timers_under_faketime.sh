#!/usr/bin/env bash
# The clock-skew tests' tool leaves timers alone: timers_under_faketime runs with the wall clock
# 300 s ahead and 300 s behind under libfaketime, with the timerfd shim the skewed test hosts
# preload before it (tests/testbed/peers.sh), and must see every due timer fire. It also runs
# without the shim at +300 s and must see them not fire: that is libfaketime's fault the shim
# exists for, and if a later libfaketime mends it, the shim can go. Skipped (77) without libfaketime.
#   timers_under_faketime.sh TIMERS_BIN SHIM_LIB
set -u
bin=$1
shim=$2
lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[[ -f $lib ]] || { echo "SKIP: libfaketime is missing (apt-get install faketime)"; exit 77; }
for skew in +300s -300s; do
  echo "FAKETIME=$skew with the shim:"
  FAKETIME=$skew FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$shim $lib" "$bin" || exit 1
done
echo "FAKETIME=+300s without the shim (libfaketime's fault, expected to show):"
if FAKETIME=+300s FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD=$lib "$bin"; then
  echo "NOTE: this libfaketime leaves due timers alone; tests/testbed/real_timerfd.cpp is no longer needed"
fi
exit 0
