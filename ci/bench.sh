#!/bin/sh
# bench.sh: every benchmark, on a release build of its own (build-bench),
# figures printed. Benchmarks are not tests: nothing here asserts a speed.
# `./run.sh bench` calls this after installing the tools and starting dockerd.
#
#   ci/bench.sh                 all of them
#   ci/bench.sh plan switch     only those named (plan, switch, watch)
#
#   plan    build-bench/test/bench-plan     plan/validate at 1..5000 sites vs
#                                           docker-compose config (issue 3)
#   switch  test/bench/bench-switch.sh      switch and rollback under load vs
#                                           docker-compose recreate (issue 4)
#   watch   build-bench/test/bench-watch or test/bench/bench-watch.sh, when
#           it exists (the watch daemon's own benchmark)
#
# Exit 0 when every selected benchmark ran, whatever its figures; 1 when one
# could not run (a missing tool is named), or the build failed.
# Environment: BUILD (default build-bench); each benchmark documents its own.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build-bench}
export BUILD

say() { printf 'bench: %s\n' "$*"; }

SELECTED="$*"
for s in $SELECTED; do
	case $s in plan | switch | watch) ;; *) say "unknown benchmark '$s' (plan, switch, watch)"; exit 1 ;; esac
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

ver() { "$@" 2>&1 | head -n 1; }
say "$(date -u '+%Y-%m-%d %H:%M UTC'); $(uname -srm); $(nproc) cores; $(awk '/MemTotal/ { printf "%.1f GB RAM", $2 / 1048576 }' /proc/meminfo)"
say "build: $BUILD ($bt; $(ver cc --version))"
say "peers: $(ver docker-compose version); $(ver nginx -v); hey $(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo missing); docker $(docker version -f '{{.Server.Version}}' 2>/dev/null || echo unreachable)"
say "load average now: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host skews wall times)"

want() { # want NAME: selected on the command line (or nothing selected)
	[ -z "$SELECTED" ] && return 0
	case " $SELECTED " in *" $1 "*) return 0 ;; esac
	return 1
}

RAN=
FAILED=
run() { # run NAME COMMAND...
	name=$1
	shift
	printf '\n==== %s\n' "$name"
	if "$@"; then
		RAN="$RAN $name"
	else
		say "$name could not run completely (exit $?): see above"
		FAILED="$FAILED $name"
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
	fi
fi

echo
say "ran:${RAN:- none}"
if [ -n "$FAILED" ]; then
	say "could not run:$FAILED"
	exit 1
fi
exit 0
