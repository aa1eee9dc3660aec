#!/bin/sh
# all.sh: everything CI checks, in order, each stage in its own build
# directory. Test results come from meson's testlogs; a stage that cannot
# build counts as a failure. Ends with "N passed, N failed[, N skipped]".
#
#   0. the layering check                         (ci/layers.py)
#   1. gcc, --werror: build                       (ci/build.sh)
#   2. clang + ASan + UBSan, --werror: unit, fuzz corpora, schema suites
#   3. valgrind over the unit suite (gcc build)
#   4. docker suite (real dockerd, real nginx) on the sanitizer build
#   5. the release (man page, completion, ZIP, meson install, the binary
#      without fault injection) and the ZIP on a fresh Debian 12 (gcc build)
#   6. libFuzzer on every fuzz target for FUZZ_SECONDS (default 60 in all)
set -u
cd "$(dirname "$0")/.."
RESULTS=$(mktemp "${TMPDIR:-/tmp}/bg-ci-results.XXXXXX")
export BG_CI_RESULTS="$RESULTS"
: "${FUZZ_SECONDS:=60}"
export FUZZ_SECONDS

step() { # step NAME COMMAND...: a stage outside meson, counted once
	name=$1; shift
	printf '== %s\n' "$name"
	if "$@"; then echo "PASS $name" >>"$RESULTS"; else echo "FAIL $name" >>"$RESULTS"; echo "!! $name failed"; fi
}

mtest() { # mtest STAGE BUILDDIR LOGNAME ARGS...: run meson test, then count its log
	stage=$1; dir=$2; log=$3; shift 3
	# A log left by an earlier run must never be counted for this one.
	rm -f "$dir/meson-logs/$log"
	meson test -C "$dir" --print-errorlogs "$@"
	rc=$?
	[ "$rc" -eq 0 ] || echo "!! $stage: meson test exited $rc"
	# Per test from the log; a FAIL for the stage if meson failed and the
	# log does not say why (a build error, a crash of meson itself).
	ci/count.py "$dir/meson-logs/$log" --stage "$stage" --rc "$rc" >>"$RESULTS" ||
		echo "FAIL $stage (count.py failed)" >>"$RESULTS"
}

step "layering (ci/layers.py: who may include whom)" python3 ci/layers.py
step "build gcc --werror" ci/build.sh build-ci-gcc gcc
step "build clang asan+ubsan --werror" ci/build.sh build-ci-asan clang-asan
if [ -f build-ci-asan/build.ninja ]; then
	printf '== unit, fuzz corpora, schema under ASan+UBSan\n'
	mtest "unit, fuzz corpora, schema, release (asan)" build-ci-asan testlog.json \
		--no-suite docker --no-suite fresh --num-processes 2
fi
if [ -f build-ci-gcc/build.ninja ]; then
	printf '== unit under valgrind\n'
	if command -v valgrind >/dev/null; then
		mtest "unit (valgrind)" build-ci-gcc testlog-valgrind.json --setup valgrind --suite unit --num-processes 2
	else
		echo "FAIL unit (valgrind): valgrind is not installed" >>"$RESULTS"
	fi
fi
if [ -f build-ci-asan/build.ninja ]; then
	printf '== docker suite (real dockerd, real nginx)\n'
	mtest "docker (asan)" build-ci-asan testlog.json --suite docker
fi
if [ -f build-ci-gcc/build.ninja ]; then
	printf '== release and the fresh machine (gcc build: as shipped, no fault injection)\n'
	mtest "release, fresh machine (gcc)" build-ci-gcc testlog.json --suite release --suite fresh
fi
step "libFuzzer ${FUZZ_SECONDS}s over every target" ci/fuzz.sh

ci/count.py --total "$RESULTS"
rc=$?
rm -f "$RESULTS"
exit $rc
