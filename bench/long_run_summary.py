#!/usr/bin/env python3
"""The checks and summary of bench/long-run.sh, from what it wrote to OUT:

  long_run_summary.py OUT ROUNDS HOSTS COMPARE(0|1)

Every host must hold rounds 1..ROUNDS with host 1's model ids; each node's RSS, open files and
threads must not grow after the settle window (medians, see long-run.sh); writes accuracy.tsv
and prints the summary. Exits 1 when a check fails."""
import collections, csv, glob, os, statistics, sys
out, rounds, hosts, compare = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
failed = []

def rounds_of(phase, k):
    rows = {}
    path = f"{out}/rounds-{phase}-{k}.tsv"
    if os.path.exists(path):
        for f in csv.reader(open(path), delimiter="\t"):
            if f and f[0].isdigit():
                rows[int(f[0])] = f
    return rows

ids = {k: {r: f[1] for r, f in rounds_of("nemesis", k).items()} for k in range(1, hosts + 1)}
for k, got in ids.items():
    if sorted(got) != list(range(1, rounds + 1)):
        failed.append(f"host {k} holds {len(got)} of the {rounds} rounds")
ref = ids[1]
for k, got in ids.items():
    diff = [r for r in got if r in ref and got[r] != ref[r]]
    if diff:
        failed.append(f"host {k}'s model ids differ from host 1's at rounds {diff[:5]}")
print(f"rounds: every host holds {min(len(g) for g in ids.values())}-{max(len(g) for g in ids.values())} of {rounds}; "
      f"model ids identical on every host: {'yes' if not any('differ' in f for f in failed) else 'NO'}")

actions = collections.Counter(row["action"] for row in csv.DictReader(open(f"{out}/nemesis.tsv"), delimiter="\t") if row["action"] != "undo")
print("nemesis: " + (", ".join(f"{a} {n}" for a, n in sorted(actions.items())) or "nothing"))

crashes = [row for row in csv.DictReader(open(f"{out}/nemesis.tsv"), delimiter="\t") if row["action"] == "crash"]
for row in crashes:
    failed.append(f"host {row['host']} stopped by itself at round {row['round']}: {row['detail']}")
settle = min(100, rounds // 5)
LIMITS = (("rss_kib", 25, 16384), ("files", 0, 8), ("threads", 0, 8))


def show(key, v):
    return f"{v / 1024:.0f}" if key == "rss_kib" else f"{v:.0f}"


def check_growth(phase, quiet_window):
    """Each host: the median after the settle rounds against the settled end (the final sample,
    taken 10 s after the run) and, for a run without restarts, the median of its last quarter."""
    path = f"{out}/samples-{phase}.tsv"
    if not os.path.exists(path):
        return
    samples = list(csv.DictReader(open(path), delimiter="\t"))
    print(f"resources, {phase} run (median in rounds {settle}-{2 * settle} -> "
          f"{'last quarter, ' if quiet_window else ''}settled end; peak):")
    for k in range(1, hosts + 1):
        mine = [s for s in samples if int(s["host"]) == k and s["seconds"] != "final" and int(s["round"]) >= settle]
        final = [s for s in samples if int(s["host"]) == k and s["seconds"] == "final"]
        early = [s for s in mine if int(s["round"]) <= 2 * settle]
        if not early or not final:
            failed.append(f"host {k} ({phase}): too few samples to judge its resources (after round {settle}: "
                          f"{len(early)} early, {len(final)} at the end)")
            continue
        late = mine[-max(1, len(mine) // 4):]
        line = []
        for key, pct, slack in LIMITS:
            name = {"rss_kib": "RSS MiB"}.get(key, key)
            base = statistics.median(int(s[key]) for s in early)
            end = int(final[-1][key])
            peak = max(int(s[key]) for s in mine + final)
            bound = base * (100 + pct) / 100 + slack
            shown = [show(key, base)]
            if quiet_window:
                last = statistics.median(int(s[key]) for s in late)
                shown.append(show(key, last))
                if last > bound:
                    failed.append(f"host {k}'s {key} ({phase}) grew from a median of {base:.0f} to {last:.0f} in the last quarter")
            shown.append(show(key, end))
            if end > bound:
                failed.append(f"host {k}'s {key} ({phase}) grew from a median of {base:.0f} to {end:.0f} at the settled end")
            line.append(f"{name} {' -> '.join(shown)}; {show(key, peak)}")
        disk = [int(s["data_dir_bytes"]) for s in mine + final]
        line.append(f"data dir {min(disk) >> 10}-{max(disk) >> 10} KiB")
        print(f"  host {k}: " + ", ".join(line))


check_growth("nemesis", False)
if compare:
    check_growth("clean", True)
print(f"crashes: {len(crashes)}")

def accuracy(phase):
    best = {}
    for k in range(1, hosts + 1):
        for r, f in rounds_of(phase, k).items():
            # federated metric (column 15), else the aggregator's test accuracy (column 8)
            v = f[14] if len(f) > 14 and f[14] not in ("", "-") else (f[7] if len(f) > 7 else "-")
            if v not in ("", "-"):
                best[r] = float(v)
    return best

acc = {"nemesis": accuracy("nemesis")}
if compare:
    acc["clean"] = accuracy("clean")
with open(f"{out}/accuracy.tsv", "w") as f:
    f.write("round\t" + "\t".join(acc) + "\n")
    for r in sorted(set().union(*[set(a) for a in acc.values()])):
        f.write(f"{r}\t" + "\t".join(f"{a[r]:.4f}" if r in a else "-" for a in acc.values()) + "\n")
for phase, a in acc.items():
    if a:
        last = max(a)
        print(f"accuracy ({phase}): {a[last]:.4f} at round {last}")
for f in failed:
    print("FAIL: " + f)
sys.exit(1 if failed else 0)
