#!/usr/bin/env python3
"""Where a round's overhead goes: reads a run directory of local peers (scripts/run.sh's, or
bench/round-overhead.py --keep's) and splits each round after the first, on the machine's
monotonic clock (all peers are on this machine), into the steps from the last trainer's end of
training to its next start of training:
  upload      the last "trained" -> the aggregator's last "update_received"
  aggregate   -> "aggregated" (decode, check and sum the updates, store the model)
  push        -> "model_pushed" (a majority of voters holds the model)
  commit      -> the aggregator applies round_commit (Raft)
  next start  -> the aggregator applies the next round_start (Raft)
  to trainer  -> the last trainer's "training" of the next round (it applied the start, holds the
              base model and began)
and the trainers' own overhead inside their job: "training" -> "trained" minus the seconds they
report for local training (loading the base, encoding and hashing the update).
Prints the median of each step over the rounds, in milliseconds.
    bench/round-timeline.py RUN_DIR
"""
import glob
import json
import statistics
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    events = []
    for f in glob.glob(sys.argv[1] + "/*/events.jsonl"):
        events += [json.loads(line) for line in open(f)]
    if not events:
        sys.exit(f"round-timeline.py: no events under {sys.argv[1]}/*/")
    aggregator = {e["round"]: e["node"] for e in events if e.get("event") == "aggregated"}
    round_of_model = {e["model_id"]: e["round"] for e in events if e.get("event") == "aggregated"}
    for e in events:
        if e.get("event") == "model_pushed" and "round" not in e:
            e["round"] = round_of_model.get(e.get("model_id"))
    at = defaultdict(list)  # (event, round, node or None) -> mono_ms
    job = defaultdict(list)  # round -> trainer job overhead ms
    started = {}
    for e in sorted(events, key=lambda e: e["mono_ms"]):
        ev, r = e.get("event"), e.get("round")
        if r is None:
            continue
        if ev == "training":
            started[(e["node"], r)] = e["mono_ms"]
        if ev == "trained" and (e["node"], r) in started:
            job[r].append(e["mono_ms"] - started[(e["node"], r)] - 1000 * e["seconds"])
        at[(ev, r, e["node"])].append(e["mono_ms"])
        at[(ev, r, None)].append(e["mono_ms"])
    steps = defaultdict(list)
    names = ["upload", "aggregate", "push", "commit", "next start", "to trainer", "total"]
    for r in sorted(aggregator):
        a = aggregator[r]
        try:
            t = [max(at[("trained", r, None)]),
                 max(at[("update_received", r, a)]),
                 max(at[("aggregated", r, a)]),
                 max(at[("model_pushed", r, a)]),
                 max(at[("round_commit", r, a)]),
                 max(at[("round_start", r + 1, a)]),
                 max(at[("training", r + 1, None)])]
        except ValueError:
            continue  # the last round, or one without every step
        for name, d in zip(names, [t[i + 1] - t[i] for i in range(6)] + [t[6] - t[0]]):
            steps[name].append(d)
        steps["trainer job beyond training"].append(statistics.median(job[r]) if job[r] else 0)
    if not steps:
        sys.exit("round-timeline.py: no round with every step")
    print(f"median over {len(steps['total'])} rounds, ms")
    for name in names + ["trainer job beyond training"]:
        print(f"  {name:<28} {statistics.median(steps[name]):8.1f}")


if __name__ == "__main__":
    main()
