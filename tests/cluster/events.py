#!/usr/bin/env python3
"""Reads fednode's events.jsonl files as JSON (never by field order) for the shell tests.

  events.py rounds FILE           committed rounds, one line each: round, model id, aggregator,
                                  number of updates aggregated, their senders joined by commas
                                  (a restarted node logs a commit
                                  again when it re-applies it: the last line per round counts)
  events.py count EVENT FILE...   how many EVENT lines the files hold
  events.py first EVENT AFTER_MONO FILE...
                                  the smallest mono_ms of an EVENT later than AFTER_MONO, or -1
  events.py first-other EVENT AFTER_MONO AGGREGATOR FILE...
                                  the same, among EVENTs whose aggregator is not AGGREGATOR
  events.py field EVENT KEY FILE...
                                  KEY of every EVENT, one a line, in file order
  events.py select EVENT NAME=VALUE KEY FILE...
                                  the same, among EVENTs whose NAME is VALUE
  events.py json PATH             reads one JSON object on stdin (ctl output), prints the
                                  value at PATH (keys joined by dots)
"""
import json
import sys


def lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError as e:
                    # A line being written while we read is the only excuse for a torn line.
                    print(f"events.py: {path}:{n}: not JSON ({e})", file=sys.stderr)
    except FileNotFoundError:
        return


def main(argv):
    if len(argv) >= 2 and argv[0] == "rounds":
        last = {}
        for e in lines(argv[1]):
            if e.get("event") == "round_commit":
                last[e["round"]] = e
        for r in sorted(last):
            e = last[r]
            trainers = e.get("participants", [])
            print(f"{r}\t{e['model_id']}\t{e['aggregator']}\t{len(trainers)}\t{','.join(trainers)}")
        return 0
    if len(argv) >= 3 and argv[0] == "count":
        print(sum(1 for f in argv[2:] for e in lines(f) if e.get("event") == argv[1]))
        return 0
    if len(argv) >= 4 and argv[0] == "first":
        after = int(argv[2])
        stamps = [e["mono_ms"] for f in argv[3:] for e in lines(f) if e.get("event") == argv[1] and e.get("mono_ms", -1) > after]
        print(min(stamps) if stamps else -1)
        return 0
    if len(argv) >= 5 and argv[0] == "first-other":
        after, other = int(argv[2]), argv[3]
        stamps = [e["mono_ms"] for f in argv[4:] for e in lines(f)
                  if e.get("event") == argv[1] and e.get("mono_ms", -1) > after and e.get("aggregator") != other]
        print(min(stamps) if stamps else -1)
        return 0
    if len(argv) >= 4 and argv[0] == "field":
        for f in argv[3:]:
            for e in lines(f):
                if e.get("event") == argv[1] and argv[2] in e:
                    v = e[argv[2]]
                    print(",".join(map(str, v)) if isinstance(v, list) else v)
        return 0
    if len(argv) >= 5 and argv[0] == "select":
        name, _, value = argv[2].partition("=")
        for f in argv[4:]:
            for e in lines(f):
                if e.get("event") == argv[1] and str(e.get(name)) == value and argv[3] in e:
                    v = e[argv[3]]
                    print(",".join(map(str, v)) if isinstance(v, list) else v)
        return 0
    if len(argv) == 2 and argv[0] == "json":
        v = json.load(sys.stdin)
        for key in argv[1].split("."):
            v = v[key]
        print(v)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
