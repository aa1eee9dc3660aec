#!/bin/sh
# bench.sh: every benchmark, on a release build of its own (build-bench),
# figures printed. Benchmarks are not tests: nothing here asserts a speed.
# `./run.sh bench` calls this after installing the tools and starting dockerd.
#
#   ci/bench.sh                 all of them
#   ci/bench.sh plan switch     only those named (plan, switch, watch, backup,
#                               cockpit)
#
#   plan    build-bench/test/bench-plan     plan/validate at 1..5000 sites vs
#                                           docker-compose config (issue 3)
#   switch  test/bench/bench-switch.sh      switch and rollback under load vs
#                                           docker-compose recreate (issue 4);
#                                           BENCH_SWITCH_VS=PATH pairs another
#                                           bluegreen binary run by run (a
#                                           before/after, issue 11)
#   watch   build-bench/test/bench-watch or test/bench/bench-watch.sh, when
#           it exists (the watch daemon's own benchmark)
#   backup  test/bench/bench-backup.sh      backup and restore time and size
#                                           (1 GiB volume, 100 MB MariaDB) vs
#                                           tar and mariadb-dump by hand
#                                           (issue 12)
#   swarm   test/bench/bench-swarm.sh       switch and rollback on a single-
#                                           node Swarm next to one engine,
#                                           same run, pair by pair (issue 17)
#   cockpit build-bench/test/bench-cockpit  the daemon's event-to-plan latency
#                                           with the cockpit idle and under
#                                           200 /events streams + 1,000 req/s,
#                                           in pairs (issue 15)
#
# At the end the figures of the run go to one file, build/bench/results.json
# (docs/benchmarks.md, "results.json"): each benchmark writes its fragment
# (BENCH_JSON=build/bench/NAME.json), ci/bench-results.py merges them with
# the run's date, host, build and peers. The part of a benchmark that was
# not selected, was skipped or failed is null, and "benchmarks" says which.
#
# Exit 0 when every selected benchmark ran, whatever its figures; 1 when one
# could not run (a missing tool is named), the build failed, or results.json
# could not be written.
# Environment: BUILD (default build-bench), BENCH_OUT (default build/bench:
# where the fragments and results.json go); each benchmark documents its own.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build-bench}
export BUILD
OUT=${BENCH_OUT:-build/bench}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac

say() { printf 'bench: %s\n' "$*"; }

SELECTED="$*"
for s in $SELECTED; do
	case $s in plan | switch | watch | backup | swarm | cockpit) ;; *) say "unknown benchmark '$s' (plan, switch, watch, backup, swarm, cockpit)"; exit 1 ;; esac
done

# A directory configured before benchmarks was a feature is set up afresh.
if [ -f "$BUILD/build.ninja" ] &&
	! grep -q '"benchmarks"' "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null; then
	rm -rf "$BUILD"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
	log=$(mktemp "${TMPDIR:-/tmp}/bg-bench-setup.XXXXXX")
	meson setup "$BUILD" --buildtype=release -Dbenchmarks=enabled -Dtests=disabled \
		-Dfuzzers=disabled >"$log" 2>&1 ||
		{ cat "$log" >&2; rm -f "$log"; say "meson setup $BUILD failed (above)"; exit 1; }
	rm -f "$log"
fi
log=$(mktemp "${TMPDIR:-/tmp}/bg-bench-ninja.XXXXXX")
ninja -C "$BUILD" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; say "build failed (ninja -C $BUILD, above)"; exit 1; }
rm -f "$log"
bt=$(meson introspect "$BUILD" --buildoptions 2>/dev/null |
	sed -n 's/.*"name": "buildtype", "value": "\([a-z]*\)".*/\1/p' | head -n 1)
[ "$bt" = release ] || say "warning: $BUILD is a '$bt' build, not release: figures are not representative"

# The figures of an earlier run must never be merged into this one's.
mkdir -p "$OUT" || { say "cannot create $OUT"; exit 1; }
rm -f "$OUT/plan.json" "$OUT/switch.json" "$OUT/watch.json" "$OUT/backup.json" "$OUT/cockpit.json" \
	"$OUT/swarm.json" "$OUT/results.json"

ver() { "$@" 2>&1 | head -n 1; }
m_date=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
m_kernel=$(uname -srm)
m_cores=$(nproc)
m_mem=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
m_cc=$(ver cc --version)
m_compose=$(ver docker-compose version)
m_nginx=$(ver nginx -v)
m_hey=$(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo missing)
m_docker=$(docker version -f '{{.Server.Version}}' 2>/dev/null || echo unreachable)
m_load0=$(cut -d' ' -f1-3 /proc/loadavg)
m_commit=$(git rev-parse HEAD 2>/dev/null)
m_dirty=
[ -n "$m_commit" ] && { [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && m_dirty=true || m_dirty=false; }
say "$(date -u '+%Y-%m-%d %H:%M UTC'); $m_kernel; $m_cores cores; $m_mem GB RAM"
say "build: $BUILD ($bt; $m_cc)"
say "peers: $m_compose; $m_nginx; hey $m_hey; docker $m_docker"
say "load average now: $m_load0 (other work on the host skews wall times)"

want() { # want NAME: selected on the command line (or nothing selected)
	[ -z "$SELECTED" ] && return 0
	case " $SELECTED " in *" $1 "*) return 0 ;; esac
	return 1
}

RAN=
FAILED=
STATUS= # NAME=STATE ... for results.json
run() { # run NAME COMMAND...: the benchmark writes its figures to $OUT/NAME.json
	name=$1
	shift
	printf '\n==== %s\n' "$name"
	if BENCH_JSON=$OUT/$name.json "$@"; then
		RAN="$RAN $name"
		STATUS="$STATUS $name=ran"
	else
		say "$name could not run completely (exit $?): see above"
		FAILED="$FAILED $name"
		STATUS="$STATUS $name=failed"
	fi
}

if want plan; then
	run plan "$BUILD/test/bench-plan"
fi
if want switch; then
	run switch test/bench/bench-switch.sh
fi
if want watch; then
	if [ -x "$BUILD/test/bench-watch" ]; then
		run watch "$BUILD/test/bench-watch"
	elif [ -x test/bench/bench-watch.sh ]; then
		run watch test/bench/bench-watch.sh
	else
		printf '\n==== watch\n'
		say "watch: skipped: neither $BUILD/test/bench-watch nor test/bench/bench-watch.sh exists yet"
		STATUS="$STATUS watch=skipped"
	fi
fi
if want backup; then
	case $BUILD in /*) bdir=$BUILD ;; *) bdir=$(pwd)/$BUILD ;; esac
	run backup test/bench/bench-backup.sh "$bdir"
fi
if want cockpit; then
	run cockpit "$BUILD/test/bench-cockpit"
fi

if want swarm; then # issue 17
	run swarm test/bench/bench-swarm.sh
fi

# One file with the figures of the run (python3: ./run.sh bench installs it
# with the test packages).
results() {
	command -v python3 >/dev/null 2>&1 || { say "python3 not found: $OUT/results.json not written"; return 1; }
	# shellcheck disable=SC2046 # NAME=STATE words, split on purpose
	python3 ci/bench-results.py merge --dir "$OUT" --out "$OUT/results.json" \
		$(for s in $STATUS; do printf -- '--status %s ' "$s"; done) \
		--meta "date=$m_date" --meta "kernel=$m_kernel" --meta "host.cores=$m_cores" \
		--meta "host.mem_gb=$m_mem" --meta "load_average.start=$m_load0" \
		--meta "load_average.end=$(cut -d' ' -f1-3 /proc/loadavg)" \
		--meta "build.dir=$BUILD" --meta "build.type=$bt" --meta "build.compiler=$m_cc" \
		--meta "git.commit=$m_commit" --meta "git.dirty=$m_dirty" \
		--meta "peers.docker_compose=$m_compose" --meta "peers.nginx=$m_nginx" \
		--meta "peers.hey=$m_hey" --meta "peers.docker=$m_docker" ||
		{ say "$OUT/results.json could not be written (above)"; return 1; }
	say "figures of this run: $OUT/results.json"
}

echo
say "ran:${RAN:- none}"
rc=0
results || rc=1
if [ -n "$FAILED" ]; then
	say "could not run:$FAILED"
	rc=1
fi
exit $rc
