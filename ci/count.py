#!/usr/bin/python3
"""count.py: turn meson testlogs into PASS/FAIL/SKIP lines, and add them up.

  count.py TESTLOG.json [--stage NAME --rc N]
        one line per test: "PASS name", "FAIL name", "SKIP name". A line of
        the log that is not a JSON object is a FAIL (a truncated or corrupt
        log must not hide a failure). With --rc: when meson exited non-zero
        and the log shows no failure, one more "FAIL NAME (...)" line for
        the stage; a log with no test at all is a FAIL too.
  count.py --total RESULTS
        print "N passed, N failed[, N skipped]" (the last line); exit 1 on
        failures
"""
import json
import sys


def per_test(path, stage=None, rc=None):
    failed = 0
    tests = 0
    parts = path.split("/")
    setup = parts[-3] if len(parts) >= 3 else ""  # the build directory
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"FAIL testlog {path}: {e.strerror}")
        return
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            t = json.loads(line)
            if not isinstance(t, dict):
                raise ValueError("not an object")
        except ValueError as e:
            print(f"FAIL testlog {path}:{n}: not a JSON test record ({e})")
            failed += 1
            continue
        tests += 1
        res = t.get("result", "")
        name = t.get("name", "?")
        label = f"{setup}:{name}"
        if res in ("OK", "EXPECTEDFAIL"):
            print(f"PASS {label}")
        elif res == "SKIP":
            print(f"SKIP {label}")
        else:
            print(f"FAIL {label} ({res})")
            failed += 1
    if rc is None:
        return
    name = stage or path
    if tests == 0 and failed == 0:
        print(f"FAIL {name} (meson exited {rc}; its log {path} holds no test)")
    elif rc != 0 and failed == 0:
        print(f"FAIL {name} (meson exited {rc} and its log shows no failing test)")


def total(path):
    p = f = s = 0
    failed = []
    for line in open(path, encoding="utf-8", errors="replace"):
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


def main(argv):
    if len(argv) == 3 and argv[1] == "--total":
        return total(argv[2])
    args = argv[1:]
    stage = rc = None
    path = None
    while args:
        a = args.pop(0)
        if a == "--stage" and args:
            stage = args.pop(0)
        elif a == "--rc" and args:
            try:
                rc = int(args.pop(0))
            except ValueError:
                rc = 1
        elif path is None:
            path = a
        else:
            print(f"FAIL count.py: unexpected argument {a!r}")
            return 0
    if path is None:
        print("FAIL count.py: no testlog given")
        return 0
    per_test(path, stage, rc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
