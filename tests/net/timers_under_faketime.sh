#!/usr/bin/env bash
# Runs timers_under_faketime with the wall clock 300 s ahead and 300 s behind, as the skew tests
# do (tests/testbed/peers.sh); skipped (77) where libfaketime is missing.
set -u
bin=$1
lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[[ -f $lib ]] || { echo "SKIP: libfaketime is missing (apt-get install faketime)"; exit 77; }
for skew in +300s -300s; do
  echo "FAKETIME=$skew:"
  FAKETIME=$skew FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD=$lib "$bin" || exit 1
done
