#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder of outside input with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer. New inputs that reach new code are added to
# tests/fuzz/corpus/<target>/ (commit the ones worth keeping); a crash leaves crash-* in
# build-fuzz/fuzz/ and makes the script fail. ctest runs the same targets without libFuzzer for
# a few seconds each; this is the longer run.
#   scripts/fuzz.sh [--seconds N] [--seeds] [TARGET...]
#     --seconds N   per target (default 60)
#     --seeds       first rewrite the corpus seeds (seed-*) from the project's own encoders
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
seeds=0
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(peer_datagram client_request data_frame log_record snapshot model_blob handshake local_data)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 1; }

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFEDNODE_FUZZ_ONLY=ON -DFEDNODE_LIBFUZZER=ON -DFEDNODE_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j2 >/dev/null
if [[ $seeds == 1 ]]; then
  build-fuzz/fuzz/fuzz_make_seeds tests/fuzz/corpus
fi
failed=0
for t in "${targets[@]}"; do
  dir=tests/fuzz/corpus/$t
  mkdir -p "$dir"
  before=$(ls "$dir" | wc -l)
  echo "== $t: ${seconds}s from $before corpus inputs"
  # New finds go to a scratch directory first; -merge then keeps only those that reach code the
  # kept corpus does not. -max_len: the datagram bound; larger inputs only slow the search.
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  if ! (cd build-fuzz/fuzz && ./fuzz_"$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$scratch" "$OLDPWD/$dir" 2>"fuzz_$t.log" &&
        ./fuzz_"$t" -merge=1 "$OLDPWD/$dir" "$scratch" 2>>"fuzz_$t.log"); then
    echo "== $t: FAILED; see build-fuzz/fuzz/fuzz_$t.log and build-fuzz/fuzz/crash-*" >&2
    tail -30 "build-fuzz/fuzz/fuzz_$t.log" >&2
    failed=1
  fi
  rm -rf "$scratch"
  grep -E "stat::number_of_executed_units|DONE" "build-fuzz/fuzz/fuzz_$t.log" | tail -2
  echo "== $t: corpus $before -> $(ls "$dir" | wc -l) inputs"
done
exit $failed
