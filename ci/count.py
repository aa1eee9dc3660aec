#!/usr/bin/python3
"""count.py: turn meson testlogs into PASS/FAIL/SKIP lines, and add them up.

  count.py TESTLOG.json      one line per test: "PASS name", "FAIL name", "SKIP name"
  count.py --total RESULTS   print "N passed, N failed[, N skipped]"; exit 1 on failures
"""
import json
import sys


def per_test(path):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"FAIL testlog {path}: {e.strerror}")
        return
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        res = t.get("result", "")
        name = t.get("name", "?")
        setup = path.rsplit("/", 3)[-3] if "/" in path else ""
        label = f"{setup}:{name}"
        if res in ("OK", "EXPECTEDFAIL"):
            print(f"PASS {label}")
        elif res == "SKIP":
            print(f"SKIP {label}")
        else:
            print(f"FAIL {label} ({res})")


def total(path):
    p = f = s = 0
    failed = []
    for line in open(path, encoding="utf-8"):
        word, _, name = line.strip().partition(" ")
        if word == "PASS":
            p += 1
        elif word == "FAIL":
            f += 1
            failed.append(name)
        elif word == "SKIP":
            s += 1
    for name in failed:
        print(f"failed: {name}")
    print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
    return 1 if f else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--total":
        sys.exit(total(sys.argv[2]))
    per_test(sys.argv[1])
