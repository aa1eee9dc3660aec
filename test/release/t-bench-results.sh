#!/bin/sh
# t-bench-results.sh: build/bench/results.json, the file `./run.sh bench`
# (ci/bench.sh) leaves for a mechanical before/after comparison (issue 10,
# docs/benchmarks.md "results.json"). No benchmark is run for its figures:
#   - ci/bench-results.py merge on sample fragments (the three benchmarks'
#     formats): every key issue 10 requires is there with the fragment's
#     number, the run's meta data is nested and typed, "ran" and
#     "benchmarks" say which ran; a failed, an unselected and a ran
#     benchmark without a fragment each leave their part null;
#   - bench-results.py check: passes on those, and fails on a missing key,
#     a string where a number belongs, a null under --strict, a part left
#     by a benchmark that did not run;
#   - bench-results.py compare: passes on the same figures, fails on a
#     slower switch, a failed request, a quarter fewer served, more memory; a small
#     difference is noise, a missing figure is listed but not judged;
#   - the writers themselves: bench-switch.sh's JSON part on a recorded
#     results table, and bench-plan (the build's, at N=1, no Docker, no
#     peer) for real, each merged and checked --strict.
# The required keys are listed here again, apart from bench-results.py's,
# so that a key dropped there is caught here.
# Without python3: a skip (77), under CI=true a failure; the same for a build
# without bench-plan (-Dbenchmarks=disabled).
# Environment: BG_SRCDIR, BG_BUILDDIR, BG_BINARY (meson's test_env).
set -u
src=${BG_SRCDIR:?BG_SRCDIR is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-bench-results.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
bad() { echo "not ok: $*"; failed=1; }
ok() { echo "ok: $*"; }
skip() {
	case ${CI:-} in true | 1) echo "FAIL (CI=true, never skipped): $*"; exit 1 ;; esac
	echo "SKIP: $*"
	exit 77
}
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed (./run.sh test installs it)"
br="python3 $src/ci/bench-results.py"

# ---- sample fragments, in the formats the benchmarks write ----
mkdir -p "$tmp/f"
cat >"$tmp/f/plan.json" <<'EOF'
{"plan_scale": [
  {"sites": 1, "ms": 20.9, "rss_kb": 10957, "cpu_ms": 12.0, "json_ms": 21.4, "validate_ms": 16.9,
   "live_ms": null, "compose_config_ms": 630.0},
  {"sites": 100, "ms": 48.7, "rss_kb": 13926, "cpu_ms": 40.1, "json_ms": 50.2, "validate_ms": 29.4,
   "live_ms": null, "compose_config_ms": 834.6}],
 "plan": {"reps": 5, "compose_reps": 3, "optimised": true}}
EOF
cat >"$tmp/f/switch.json" <<'EOF'
{"switch": {"reps": 3,
  "bluegreen": {"ok": 5219, "failed": 0, "switch_ms": 417, "rollback_ms": 373, "outage_ms": 0},
  "compose": {"ok": 8873, "failed": 646, "update_ms": 4798, "outage_ms": 499, "rollback_ms": 4837},
  "phases": {"bg-switch": {"runs": 3, "cmd_ms": 417}}}}
EOF
cat >"$tmp/f/watch.json" <<'EOF'
{"idle": {"rss_kb": 11776, "pss_kb": 6860, "uss_kb": 2400, "wakeups_per_min": 0.0, "idle_s": 10},
 "event_latency_ms": {"p50": 134, "p99": 207, "edit": {"p50": 141, "p99": 158}},
 "watch": {"trials": 50}}
EOF

# The contract, written out independently of bench-results.py.
cat >"$tmp/contract.py" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
expect_ran = sys.argv[2].split(",") if sys.argv[2] else []
errs = []
def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
def need(path, obj, key):
    if not isinstance(obj, dict) or key not in obj:
        errs.append(f"{path}.{key} missing")
    elif not num(obj[key]):
        errs.append(f"{path}.{key} = {obj.get(key)!r}, not a number")
if sorted(res.get("ran", [])) != sorted(expect_ran):
    errs.append(f"ran = {res.get('ran')!r}, expected {expect_ran!r}")
for b in ("plan", "switch", "watch"):
    st = res.get("benchmarks", {}).get(b)
    if (st == "ran") != (b in expect_ran):
        errs.append(f"benchmarks.{b} = {st!r}")
parts = {"switch": "switch", "plan_scale": "plan", "idle": "watch", "event_latency_ms": "watch"}
for part, owner in parts.items():
    if part not in res:
        errs.append(f"{part} missing")
    elif owner not in expect_ran and res[part] is not None:
        errs.append(f"{part} is not null, but {owner} did not run")
if "switch" in expect_ran:
    sw = res.get("switch") or {}
    for k in ("ok", "failed", "switch_ms", "rollback_ms"):
        need("switch.bluegreen", sw.get("bluegreen"), k)
    for k in ("ok", "failed", "update_ms", "outage_ms"):
        need("switch.compose", sw.get("compose"), k)
if "plan" in expect_ran:
    rows = res.get("plan_scale")
    if not isinstance(rows, list) or not rows:
        errs.append("plan_scale is not a non-empty list")
    else:
        for i, r in enumerate(rows):
            for k in ("sites", "ms", "rss_kb"):
                need(f"plan_scale[{i}]", r, k)
if "watch" in expect_ran:
    for k in ("rss_kb", "pss_kb", "uss_kb", "wakeups_per_min"):
        need("idle", res.get("idle"), k)
    for k in ("p50", "p99"):
        need("event_latency_ms", res.get("event_latency_ms"), k)
for e in errs:
    print("  " + e)
sys.exit(1 if errs else 0)
EOF
contract() { # contract FILE RAN_LIST WHAT
	if python3 "$tmp/contract.py" "$1" "$2"; then ok "$3"; else bad "$3 (above)"; fi
}
value() { # value FILE PYTHON-EXPR: the expression on the results object r
	python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print(json.dumps($2))" "$1"
}
expect() { # expect FILE EXPR WANT WHAT
	got=$(value "$1" "$2" 2>&1)
	if [ "$got" = "$3" ]; then ok "$4"; else bad "$4: $2 is $got, expected $3"; fi
}

# ---- every benchmark ran ----
$br merge --dir "$tmp/f" --out "$tmp/all.json" --status plan=ran --status switch=ran \
	--status watch=ran --meta date=2026-12-06T14:00:00Z --meta build.type=release \
	--meta host.cores=2 --meta host.mem_gb=7.8 --meta git.dirty=false --meta peers.hey= \
	2>"$tmp/err" || bad "merge of three fragments failed: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && bad "merge of three valid fragments complained: $(cat "$tmp/err")"
contract "$tmp/all.json" plan,switch,watch "three fragments: every required key, a number"
expect "$tmp/all.json" 'r["switch"]["bluegreen"]["switch_ms"]' 417 "switch_ms is the fragment's"
expect "$tmp/all.json" 'r["switch"]["compose"]["outage_ms"]' 499 "compose outage_ms is the fragment's"
expect "$tmp/all.json" '[x["sites"] for x in r["plan_scale"]]' '[1, 100]' "plan_scale keeps every N, in order"
expect "$tmp/all.json" 'r["plan_scale"][1]["rss_kb"]' 13926 "plan_scale rss_kb is the fragment's"
expect "$tmp/all.json" 'r["idle"]["uss_kb"]' 2400 "idle uss_kb is the fragment's"
expect "$tmp/all.json" 'r["event_latency_ms"]["p99"]' 207 "event p99 is the fragment's"
expect "$tmp/all.json" '[r["plan"]["reps"], r["watch"]["trials"]]' '[5, 50]' "the extras are kept"
expect "$tmp/all.json" '[r["build"]["type"], r["host"]["cores"], r["host"]["mem_gb"], r["git"]["dirty"], r["peers"]["hey"]]' \
	'["release", 2, 7.8, false, null]' "meta data nested and typed (string, int, float, bool, empty = null)"
if $br check "$tmp/all.json" --strict; then ok "check --strict passes"; else bad "check --strict fails on a complete file"; fi

# ---- failed, not selected, ran without a fragment ----
$br merge --dir "$tmp/f" --out "$tmp/some.json" --status plan=ran --status switch=failed \
	2>"$tmp/err" || bad "merge with a failed benchmark failed: $(cat "$tmp/err")"
contract "$tmp/some.json" plan "switch failed, watch not selected: their parts null"
expect "$tmp/some.json" '[r["benchmarks"]["switch"], r["benchmarks"]["watch"], r["ran"]]' \
	'["failed", "not selected", ["plan"]]' "benchmarks says which ran"
expect "$tmp/some.json" '[r["switch"], r["idle"], r["event_latency_ms"]]' '[null, null, null]' \
	"a failed benchmark's fragment is not merged"
mkdir -p "$tmp/g"
cp "$tmp/f/plan.json" "$tmp/g/"
echo '{"idle": ' >"$tmp/g/watch.json"
$br merge --dir "$tmp/g" --out "$tmp/nofrag.json" --status plan=ran --status switch=ran \
	--status watch=ran 2>"$tmp/err" || bad "merge with missing fragments failed"
expect "$tmp/nofrag.json" '[r["benchmarks"]["switch"], r["benchmarks"]["watch"], r["switch"], r["idle"]]' \
	'["no figures", "no figures", null, null]' "ran but no (readable) fragment: no figures, null"
grep -q 'switch' "$tmp/err" && grep -q 'watch' "$tmp/err" ||
	bad "merge did not name the missing and the broken fragment: $(cat "$tmp/err")"
if $br check "$tmp/nofrag.json" --strict; then ok "check passes with null parts"; else bad "check fails on null parts"; fi

# ---- check must fail ----
mutate() { # mutate OUT PYTHON-STATEMENT on r (from all.json)
	python3 -c "import json, sys; r = json.load(open(sys.argv[1])); $2; json.dump(r, open(sys.argv[2], 'w'))" \
		"$tmp/all.json" "$1"
}
refused() { # refused FILE WHAT [--strict]
	$br check "$1" ${3:-} 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		bad "check accepted $2"
	elif [ "$rc" -eq 1 ] && [ -s "$tmp/err" ]; then
		ok "check refuses $2: $(head -n 1 "$tmp/err")"
	else
		bad "check refused $2 with exit $rc, or without saying why"
	fi
}
# ---- compare: before/after, mechanically (issue 10) ----
# compared OUT PYTHON WANT-RC WANT-LINE: all.json against a changed copy.
compared() {
	mutate "$tmp/after.json" "$2"
	$br compare "$tmp/all.json" "$tmp/after.json" >"$tmp/cmp" 2>&1
	rc=$?
	if [ "$rc" -ne "$3" ]; then
		bad "compare, $1: exit $rc, not $3: $(cat "$tmp/cmp")"
	elif ! grep -qE -- "$4" "$tmp/cmp"; then
		bad "compare, $1: no line matching '$4' in: $(cat "$tmp/cmp")"
	else
		ok "compare, $1: exit $rc, $(grep -E -- "$4" "$tmp/cmp" | head -n 1 | tr -s ' ')"
	fi
}
compared "the same run" 'pass' 0 '^compare: 0 figure'
compared "switch 30% slower" 'r["switch"]["bluegreen"]["switch_ms"] = 543' 1 '^switch\.bluegreen\.switch_ms +417 +543 +worse'
compared "a failed request" 'r["switch"]["bluegreen"]["failed"] = 1' 1 '^switch\.bluegreen\.failed .* worse'
compared "a quarter fewer requests served" 'r["switch"]["bluegreen"]["ok"] = 3900' 1 '^switch\.bluegreen\.ok .* worse'
compared "plan at N=100 uses 2 MB more" 'r["plan_scale"][1]["rss_kb"] += 2048' 1 '^plan_scale\[sites=100\]\.rss_kb .* worse'
compared "5 ms slower switch is noise" 'r["switch"]["bluegreen"]["switch_ms"] += 5' 0 '^switch\.bluegreen\.switch_ms .* same'
compared "one request fewer is noise" 'r["switch"]["bluegreen"]["ok"] -= 1' 0 '^switch\.bluegreen\.ok .* same'
compared "a faster switch" 'r["switch"]["bluegreen"]["switch_ms"] = 200' 0 '^switch\.bluegreen\.switch_ms .* better'
compared "a figure missing after" 'r["idle"] = None' 0 '^idle\.rss_kb .* missing'

# Each required key, removed in turn (one file each, written by one python).
python3 - "$tmp/all.json" "$tmp" >"$tmp/dlist" <<'EOF' || bad "could not write the files without a key"
import json, sys
keys = [("switch", "bluegreen", k) for k in ("ok", "failed", "switch_ms", "rollback_ms")] + \
    [("switch", "compose", k) for k in ("ok", "failed", "update_ms", "outage_ms")] + \
    [("plan_scale", 1, "sites"), ("plan_scale", 0, "ms"), ("plan_scale", 1, "rss_kb")] + \
    [("idle", k) for k in ("rss_kb", "pss_kb", "uss_kb", "wakeups_per_min")] + \
    [("event_latency_ms", "p50"), ("event_latency_ms", "p99")]
for n, path in enumerate(keys, 1):
    r = json.load(open(sys.argv[1]))
    node = r
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    json.dump(r, open(f"{sys.argv[2]}/d{n}.json", "w"))
    print(n, "".join(f"[{p!r}]" for p in path))
EOF
[ "$(wc -l <"$tmp/dlist")" -eq 17 ] || bad "not 17 files without a key"
while read -r n k; do
	refused "$tmp/d$n.json" "a missing $k"
done <"$tmp/dlist"
mutate "$tmp/m2.json" 'r["idle"]["pss_kb"] = "6860"'
refused "$tmp/m2.json" "a string pss_kb"
mutate "$tmp/m3.json" 'r["plan_scale"][0]["rss_kb"] = None'
refused "$tmp/m3.json" "a null rss_kb under --strict" --strict
mutate "$tmp/m4.json" 'r["benchmarks"]["watch"] = "failed"; r["ran"].remove("watch")'
refused "$tmp/m4.json" "figures of a benchmark that did not run"
mutate "$tmp/m5.json" 'r["plan_scale"] = []'
refused "$tmp/m5.json" "an empty plan_scale"
echo '{"broken' >"$tmp/m7.json"
$br check "$tmp/m7.json" 2>/dev/null
[ "$?" -eq 2 ] && ok "check: not JSON is exit 2" || bad "check: not JSON is not exit 2"

# ---- the writers ----
# bench-switch.sh's figures and JSON (from its "medians and ratios" part to
# the end) on a recorded results table of two repetitions.
mkdir -p "$tmp/sw"
cat >"$tmp/sw/results" <<'EOF'
bg-candidate 4952 0 1600 0 30 0 - 0 0 196
bg-switch 417 0 870 0 15 0 307 0 0 198
bg-rollback 373 0 871 0 16 0 289 0 0 197
compose-update 4798 0 1580 103 28 7 3939 16 499 177
compose-rollback 4837 0 1590 112 32 5 4050 16 519 177
bg-candidate 1952 0 1600 0 30 0 - 0 0 196
bg-switch 401 0 869 0 15 0 300 0 0 198
bg-rollback 380 0 870 0 16 0 280 0 0 197
compose-update 4700 0 1580 100 28 7 3900 17 480 177
compose-rollback 4800 0 1590 110 32 5 4000 18 500 177
EOF
part=$(sed -n '/^# ---- medians and ratios ----$/,$p' "$src/test/bench/bench-switch.sh")
if [ -z "$part" ]; then
	bad "bench-switch.sh has no '# ---- medians and ratios ----' part"
else
	(
		# shellcheck disable=SC2034 # read by the eval'd part
		W=$tmp/sw REPS=2 CONC=8 QPS=25 RUN=abc123 LOAD0="1.00 1.00 1.00" status=0
		# shellcheck disable=SC2034 # read by the eval'd part: no paired binary, compose on
		VS= COMPOSE=1
		# shellcheck disable=SC2034 # read by the eval'd part
		BENCH_JSON=$tmp/sw/switch.json
		say() { printf 'bench-switch: %s\n' "$*"; }
		eval "$part"
	) >"$tmp/sw/out" 2>&1 || bad "bench-switch.sh's figures part failed: $(cat "$tmp/sw/out")"
	$br merge --dir "$tmp/sw" --out "$tmp/sw.json" --status switch=ran 2>"$tmp/err" ||
		bad "merge of bench-switch.sh's fragment failed: $(cat "$tmp/err")"
	contract "$tmp/sw.json" switch "bench-switch.sh's fragment: the required keys"
	expect "$tmp/sw.json" '[r["switch"]["bluegreen"][k] for k in ("ok", "failed", "switch_ms", "rollback_ms")]' \
		'[3480, 0, 409, 376.5]' "bench-switch.sh: bluegreen ok/failed summed over switch and rollback, medians of ms"
	expect "$tmp/sw.json" '[r["switch"]["compose"][k] for k in ("ok", "failed", "update_ms", "outage_ms")]' \
		'[5915, 425, 4749, 489.5]' "bench-switch.sh: compose ok/failed summed over update and rollback, medians"
	grep -q 'bg-switch  *409 ' "$tmp/sw/out" || bad "bench-switch.sh no longer prints its medians table: $(cat "$tmp/sw/out")"
	$br check "$tmp/sw.json" --strict || bad "check --strict on bench-switch.sh's fragment"
fi

# bench-plan, for real: N=1, one run, without Docker and without the peer.
bp=${BG_BUILDDIR:-}/test/bench-plan
if [ -n "${BG_BUILDDIR:-}" ] && [ -x "$bp" ]; then
	mkdir -p "$tmp/bp"
	if BENCH_JSON=$tmp/bp/plan.json "$bp" --sizes 1 --reps 1 --no-live --no-compose \
		>"$tmp/bp/out" 2>&1; then
		$br merge --dir "$tmp/bp" --out "$tmp/bp.json" --status plan=ran 2>"$tmp/err" ||
			bad "merge of bench-plan's fragment failed: $(cat "$tmp/err")"
		contract "$tmp/bp.json" plan "bench-plan's fragment (N=1): the required keys"
		expect "$tmp/bp.json" '[r["plan_scale"][0]["sites"], r["plan_scale"][0]["compose_config_ms"], r["plan"]["reps"]]' \
			'[1, null, 1]' "bench-plan: sites, the peer not run is null, its settings"
		$br check "$tmp/bp.json" --strict || bad "check --strict on bench-plan's fragment"
	else
		bad "bench-plan --sizes 1 --no-live --no-compose failed: $(tail -n 5 "$tmp/bp/out")"
	fi
else
	case ${CI:-} in
	true | 1) bad "no bench-plan in '${BG_BUILDDIR:-}' (CI builds with -Dbenchmarks=enabled)" ;;
	*) echo "SKIP (part): no bench-plan in '${BG_BUILDDIR:-}' (-Dbenchmarks=disabled?)" ;;
	esac
fi

exit "$failed"
