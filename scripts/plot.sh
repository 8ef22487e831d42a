#!/usr/bin/env bash
# Turns a run directory (scripts/run.sh's runs/<time>/, or any directory whose subdirectories
# hold events.jsonl files) into PNG plots with gnuplot:
#   accuracy.png  test accuracy per committed round (the aggregator's test split) and, in runs on
#                 each party's own data, the federated accuracy (every party's own test split);
#                 each point labelled with the port of the round's aggregator; dashed lines where
#                 the aggregator changed (failover or rotation)
#   traffic.png   bytes sent per round on each channel (Raft UDP, client TCP, data-plane TCP),
#                 summed over the nodes, log scale
# and the data behind them (accuracy.dat, traffic.dat).
#   scripts/plot.sh RUN_DIR
set -euo pipefail
run_dir=${1:-}
[[ -n "$run_dir" && -d "$run_dir" ]] || { echo "usage: plot.sh RUN_DIR (a directory of scripts/run.sh's runs/)" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
mapfile -t files < <(find "$run_dir" -name events.jsonl | sort)
[[ ${#files[@]} -gt 0 ]] || { echo "plot.sh: no events.jsonl under $run_dir" >&2; exit 1; }

# round accuracy aggregator, once per evaluated round (every node logs the same rounds; the
# accuracy comes in round_evaluated, after the round's commit).
cat "${files[@]}" | grep -E '"event":"round_(commit|evaluated)"' | awk '
  function num(key,   m) { if (match($0, "\"" key "\":[-0-9.e+]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m } return "" }
  function str(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m } return "" }
  /"event":"round_commit"/ { r = num("round"); if (!(r in agg)) agg[r] = str("aggregator") }
  /"event":"round_evaluated"/ { r = num("round"); if (!(r in acc)) { a = num("test_accuracy"); acc[r] = a == "" ? "NaN" : a; f = num("federated_metric"); fed[r] = f == "" ? "NaN" : f } }
  END { for (r in acc) if (r in agg) print r, acc[r], agg[r], fed[r] }' | sort -n >"$run_dir/accuracy.dat"
[[ -s "$run_dir/accuracy.dat" ]] || { echo "plot.sh: no committed rounds in $run_dir" >&2; exit 1; }

# Per node, the channel counters at each round_commit; per round, the sum over nodes of what was
# sent since that node's previous round (a restarted node starts again from zero).
for f in "${files[@]}"; do
  grep '"event":"round_commit"' "$f" | awk '
    function sent(ch,   m) { if (match($0, "\"" ch "\":\\{\"bytes_in\":[0-9]+,\"bytes_out\":[0-9]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return 0 }
    { match($0, /"round":[0-9]+/); r = substr($0, RSTART + 8, RLENGTH - 8)
      for (i = 1; i <= 3; i++) { ch = (i == 1 ? "raft_udp" : i == 2 ? "client_tcp" : "data_tcp"); v = sent(ch); d = v - prev[i]; if (d < 0) d = v; prev[i] = v; out[i] = d }
      print r, out[1], out[2], out[3] }'
done | awk '{ raft[$1] += $2; client[$1] += $3; data[$1] += $4 } END { for (r in raft) print r, raft[r], client[r], data[r] }' |
  sort -n >"$run_dir/traffic.dat"

changes=$(awk 'NR > 1 && $3 != prev { printf "set arrow from %s-0.5, graph 0 to %s-0.5, graph 1 nohead dashtype 2 lc rgb \"red\"\n", $1, $1 } { prev = $3 }' "$run_dir/accuracy.dat")
last_round=$(awk 'END { print $1 + 0 }' "$run_dir/accuracy.dat")
[[ $last_round -ge 1 ]] || last_round=1
gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$run_dir/accuracy.png"
set title "Test accuracy per round (label: aggregator port; dashed: aggregator changed)"
set xlabel "round"
set ylabel "test accuracy"
set grid
set key bottom right
set xrange [0.5:$last_round + 0.5]
set xtics $(( last_round > 20 ? (last_round + 19) / 20 : 1 ))
set format x "%.0f"
set offsets 0, 0, 0.05, 0.05
$changes
plot "$run_dir/accuracy.dat" using 1:2 with linespoints pt 7 lc rgb "#1f77b4" title "aggregator's test split", \
     "" using 1:2:(sprintf("%s", substr(strcol(3), strstrt(strcol(3), ":") + 1, 99))) with labels offset 0,1 font ",8" notitle, \
     "" using 1:4 with linespoints pt 5 lc rgb "#2ca02c" title "federated (parties' own test splits)"
set output "$run_dir/traffic.png"
set title "Bytes sent per round, all nodes"
set ylabel "bytes (log scale)"
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8
set key top left
unset arrow
unset offsets
set autoscale x
set xtics autofreq
set format x "% h"
plot "$run_dir/traffic.dat" using 2:xtic(1) title "Raft UDP", "" using 3 title "client TCP (fednode ctl: run.sh asks one node every 2 s)", "" using 4 title "data plane TCP (models, updates)"
GP
echo "plot.sh: wrote $run_dir/accuracy.png and $run_dir/traffic.png"
