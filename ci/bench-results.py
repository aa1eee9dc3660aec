#!/usr/bin/env python3
"""bench-results.py: the benchmarks' figures as one JSON file.

Each benchmark writes a small JSON fragment (its figures, where ci/bench.sh
tells it to with BENCH_JSON); ci/bench.sh merges them at the end of a run
into build/bench/results.json (docs/benchmarks.md describes every field).

  bench-results.py merge --dir DIR --out FILE [--status NAME=STATE]...
                         [--meta KEY=VALUE]...
      DIR holds plan.json, switch.json, watch.json, backup.json,
      cockpit.json (the fragments; backup's and cockpit's parts have no
      required keys). STATE is
      ran, failed, skipped or "not selected". Only the fragment of a
      benchmark that ran is merged; every other benchmark's part is null.
      A benchmark that ran but left no usable fragment becomes "no figures".
      Prints what it found wrong with the result (check, below) on stderr;
      exits 0 when FILE was written.
  bench-results.py check FILE [--strict]
      The issue 10 contract: each part of a benchmark that ran has the
      required keys, each a number or (unless --strict) null; the part of a
      benchmark that did not run is null. Exit 0 when it holds, 1 if not
      (each problem on stderr), 2 when FILE is not JSON.
  bench-results.py compare BEFORE AFTER [--tolerance PCT]
      The figures of two runs side by side (issue 10: "figures do not get
      worse"): switch.bluegreen ok/failed/switch_ms/rollback_ms, each
      plan_scale row's ms and rss_kb, idle rss/pss/uss/wakeups, event
      latency p50/p99. A figure is worse when failed went up at all, or
      when it moved the wrong way (ok: down; every other: up) by more than
      PCT percent (default 10) and by more than its noise floor. Exit 0 when none is worse, 1 if one is, 2 when
      a file is not JSON. A figure missing on either side is listed, not
      judged.
"""
import json
import os
import re
import sys

BENCHMARKS = ("plan", "switch", "watch", "backup", "cockpit", "swarm")
# The parts of results.json each benchmark's fragment owns: the required
# ones (issue 10) and the extras next to them.
OWNS = {
    "plan": ("plan_scale", "plan"),
    "switch": ("switch",),
    "watch": ("idle", "event_latency_ms", "watch"),
    "backup": ("backup",),
    "cockpit": ("cockpit_load",),
    "swarm": ("swarm",),
}
# Required leaves, per part (issue 10, Rules). plan_scale is a list of rows.
REQUIRED = {
    "switch": {
        "bluegreen": ("ok", "failed", "switch_ms", "rollback_ms"),
        "compose": ("ok", "failed", "update_ms", "outage_ms"),
    },
    "plan_scale": ("sites", "ms", "rss_kb"),
    "idle": ("rss_kb", "pss_kb", "uss_kb", "wakeups_per_min"),
    "event_latency_ms": ("p50", "p99"),
}
OWNER = {"switch": "switch", "plan_scale": "plan", "idle": "watch",
         "event_latency_ms": "watch"}


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check(res, strict=False):
    """Problems with a results object, as a list of strings (empty: valid)."""
    probs = []
    if not isinstance(res, dict):
        return ["the top level is not an object"]
    status = res.get("benchmarks")
    if not isinstance(status, dict):
        return ['no "benchmarks" object (which benchmark ran)']
    ran = res.get("ran")
    if not isinstance(ran, list) or sorted(ran) != sorted(
            n for n in BENCHMARKS if status.get(n) == "ran"):
        probs.append('"ran" does not list exactly the benchmarks whose state is "ran"')

    def leaf(where, obj, key):
        if not isinstance(obj, dict) or key not in obj:
            probs.append(f"{where}.{key}: missing")
        elif obj[key] is None:
            if strict:
                probs.append(f"{where}.{key}: null (no figure)")
        elif not is_num(obj[key]):
            probs.append(f"{where}.{key}: {obj[key]!r} is not a number")

    for part, req in REQUIRED.items():
        owner = OWNER[part]
        if part not in res:
            probs.append(f"{part}: missing (null when {owner} did not run)")
            continue
        val = res[part]
        if status.get(owner) != "ran":
            if val is not None:
                probs.append(f"{part}: {owner} is '{status.get(owner)}' but the part is not null")
            continue
        if part == "plan_scale":
            if not isinstance(val, list) or not val:
                probs.append("plan_scale: not a non-empty list")
                continue
            for i, row in enumerate(val):
                for k in req:
                    leaf(f"plan_scale[{i}]", row, k)
        elif isinstance(req, dict):
            if not isinstance(val, dict):
                probs.append(f"{part}: not an object")
                continue
            for sub, keys in req.items():
                if not isinstance(val.get(sub), dict):
                    probs.append(f"{part}.{sub}: missing or not an object")
                    continue
                for k in keys:
                    leaf(f"{part}.{sub}", val[sub], k)
        else:
            if not isinstance(val, dict):
                probs.append(f"{part}: not an object")
                continue
            for k in req:
                leaf(part, val, k)
    return probs


# Lower is better for every compared figure but "ok". Below FLOOR (in the
# figure's own unit) a difference is noise on this kind of machine.
COMPARED = (
    (("switch", "bluegreen", "ok"), "higher", 10),
    (("switch", "bluegreen", "failed"), "exact", 0),
    (("switch", "bluegreen", "switch_ms"), "lower", 20),
    (("switch", "bluegreen", "rollback_ms"), "lower", 20),
    (("idle", "rss_kb"), "lower", 512),
    (("idle", "pss_kb"), "lower", 512),
    (("idle", "uss_kb"), "lower", 512),
    (("idle", "wakeups_per_min"), "lower", 1),
    (("event_latency_ms", "p50"), "lower", 10),
    (("event_latency_ms", "p99"), "lower", 20),
)
FLOOR = {"ms": 20, "rss_kb": 1024}


def dig(obj, path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj if is_num(obj) else None


def verdict(before, after, how, floor, tol):
    """'worse', 'better' or 'same' for one figure."""
    if how == "higher":  # requests served in the run's fixed window
        dropped = before - after
        if dropped > floor and dropped > before * tol / 100.0:
            return "worse"
        return "better" if -dropped > floor and -dropped > before * tol / 100.0 else "same"
    if how == "exact":
        return "worse" if after > before else "better" if after < before else "same"
    grew = after - before
    if grew > floor and grew > before * tol / 100.0:
        return "worse"
    if -grew > floor and -grew > before * tol / 100.0:
        return "better"
    return "same"


def compare(before, after, tol):
    """Rows (name, before, after, verdict) and the number of worse figures."""
    rows = []
    for path, how, floor in COMPARED:
        rows.append((".".join(path), dig(before, path), dig(after, path), how, floor))
    b_rows = {r.get("sites"): r for r in before.get("plan_scale") or [] if isinstance(r, dict)}
    a_rows = {r.get("sites"): r for r in after.get("plan_scale") or [] if isinstance(r, dict)}
    for sites in sorted(set(b_rows) | set(a_rows), key=lambda x: (x is None, x)):
        for k in ("ms", "rss_kb"):
            rows.append((f"plan_scale[sites={sites}].{k}", dig(b_rows.get(sites), (k,)),
                         dig(a_rows.get(sites), (k,)), "lower", FLOOR[k]))
    out, worse = [], 0
    for name, b, a, how, floor in rows:
        if b is None or a is None:
            out.append((name, b, a, "missing"))
            continue
        v = verdict(b, a, how, floor, tol)
        worse += v == "worse"
        out.append((name, b, a, v))
    return out, worse


def load_fragment(path):
    """A fragment's object, or (None, why)."""
    try:
        with open(path, encoding="utf-8") as f:
            frag = json.load(f)
    except FileNotFoundError:
        return None, "no fragment " + path
    except (OSError, ValueError) as e:
        return None, f"{path}: {e}"
    if not isinstance(frag, dict):
        return None, f"{path}: not a JSON object"
    return frag, None


def merge(frag_dir, status, meta):
    res = dict(meta)
    states, frags, notes = {}, {}, []
    for name in BENCHMARKS:
        state = status.get(name, "not selected")
        if state == "ran":
            frags[name], why = load_fragment(os.path.join(frag_dir, name + ".json"))
            if frags[name] is None:
                notes.append(f"{name}: {why}")
                state = "no figures"
        states[name] = state
    res["benchmarks"] = states
    res["ran"] = [n for n in BENCHMARKS if states[n] == "ran"]
    if notes:
        res["notes"] = notes
    for name in BENCHMARKS:
        frag = frags.get(name)
        for part in OWNS[name]:
            res[part] = frag.get(part) if frag is not None else None
    return res


def parse_pairs(items, what):
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k:
            raise SystemExit(f"bench-results: {what} '{it}' is not KEY=VALUE")
        out[k] = v
    return out


def nest(flat):
    """a.b=VALUE -> {"a": {"b": VALUE}}: empty is null; true, false and numbers are typed."""
    out = {}
    for k, v in flat.items():
        node = out
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if v == "":
            v = None
        elif v in ("true", "false"):
            v = v == "true"
        elif re.fullmatch(r"-?[0-9]+", v):
            v = int(v)
        elif re.fullmatch(r"-?[0-9]+\.[0-9]+", v):
            v = float(v)
        node[parts[-1]] = v
    return out


def main(argv):
    if len(argv) >= 2 and argv[1] == "merge":
        args = argv[2:]
        frag_dir = out = None
        status, meta = [], []
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("--dir", "--out", "--status", "--meta") and i + 1 < len(args):
                v = args[i + 1]
                if a == "--dir":
                    frag_dir = v
                elif a == "--out":
                    out = v
                elif a == "--status":
                    status.append(v)
                else:
                    meta.append(v)
                i += 2
            else:
                raise SystemExit(f"bench-results: unknown argument '{a}' (see the header)")
        if not frag_dir or not out:
            raise SystemExit("bench-results: merge needs --dir and --out")
        st = parse_pairs(status, "status")
        for n in st:
            if n not in BENCHMARKS:
                raise SystemExit(f"bench-results: unknown benchmark '{n}'")
        res = merge(frag_dir, st, nest(parse_pairs(meta, "meta")))
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
        os.replace(tmp, out)
        for n in res.get("notes", []):
            print(f"bench-results: {n}", file=sys.stderr)
        for p in check(res):
            print(f"bench-results: {out}: {p}", file=sys.stderr)
        return 0
    if len(argv) >= 3 and argv[1] == "check":
        strict = "--strict" in argv[3:]
        try:
            with open(argv[2], encoding="utf-8") as f:
                res = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench-results: {argv[2]}: {e}", file=sys.stderr)
            return 2
        probs = check(res, strict)
        for p in probs:
            print(f"bench-results: {argv[2]}: {p}", file=sys.stderr)
        return 1 if probs else 0
    if len(argv) >= 4 and argv[1] == "compare":
        tol = 10.0
        if argv[4:6] and argv[4] == "--tolerance" and len(argv) == 6:
            tol = float(argv[5])
        elif len(argv) != 4:
            raise SystemExit("bench-results: compare BEFORE AFTER [--tolerance PCT]")
        res = []
        for path in argv[2:4]:
            try:
                with open(path, encoding="utf-8") as f:
                    res.append(json.load(f))
            except (OSError, ValueError) as e:
                print(f"bench-results: {path}: {e}", file=sys.stderr)
                return 2
        rows, worse = compare(res[0], res[1], tol)
        print(f"{'figure':40} {'before':>12} {'after':>12}  verdict (tolerance {tol:g}%)")
        for name, b, a, v in rows:
            fb = "-" if b is None else f"{b:g}"
            fa = "-" if a is None else f"{a:g}"
            print(f"{name:40} {fb:>12} {fa:>12}  {v}")
        print(f"compare: {worse} figure(s) worse")
        return 1 if worse else 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
