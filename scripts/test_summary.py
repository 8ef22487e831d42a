#!/usr/bin/env python3
"""One summary line after a ctest run, and the reason of every skipped test.

Reads ctest's console output (CONSOLE: what scripts/test.sh saved) for each test's result and
BUILD/Testing/Temporary/LastTest.log (each test's full output) for why a test skipped: a
GoogleTest skip message, or a script's "SKIP: ..." line. Prints
  ctest: N passed, N failed, N skipped
  skipped NAME: REASON
  scripts/test_summary.py BUILD_DIR CONSOLE
"""
import re
import sys


def skip_reasons(log):
    reasons = {}
    starts = [m.start() for m in re.finditer(r"^\d+/\d+ Testing: ", log, re.M)]
    for begin, end in zip(starts, starts[1:] + [len(log)]):
        block = log[begin:end]
        name = re.match(r"\d+/\d+ Testing: (.+)", block).group(1).strip()
        output = block.split("<end of output>")[0]
        m = re.search(r"^SKIP: (.+)$", output, re.M) or re.search(r": Skipped\n(.+)$", output, re.M)
        if m:
            reasons[name] = m.group(1).strip()
    return reasons


def main():
    build, console = sys.argv[1], sys.argv[2]
    results = re.findall(r"Test +#\d+: (.+?) \.+ *(?:\*\*\*)?(Passed|Failed|Skipped|Not Run|Timeout|Exception)",
                         open(console, errors="replace").read())
    try:
        reasons = skip_reasons(open(f"{build}/Testing/Temporary/LastTest.log", errors="replace").read())
    except OSError:
        reasons = {}
    count = {"Passed": 0, "Skipped": 0}
    failed = []
    for name, status in results:
        if status in count:
            count[status] += 1
        else:
            failed.append(name)
    print(f"ctest: {count['Passed']} passed, {len(failed)} failed, {count['Skipped']} skipped")
    for name, status in results:
        if status == "Skipped":
            print(f"  skipped {name}: {reasons.get(name, '(no reason printed)')}")
    for name in failed:
        print(f"  FAILED {name}")


if __name__ == "__main__":
    main()
