#!/bin/sh
# fuzz.sh: libFuzzer over every fuzz target (test/fuzz/fuzz-*.c), in its own
# clang + ASan build (build-fuzz, or $FUZZ_BUILD_DIR).
#
#   FUZZ_SECONDS  total time, split evenly across the targets (default 60;
#                 at least 1 s each). With one target it all goes to it.
#   FUZZ_TARGETS  space-separated target names (default: every target),
#                 e.g. FUZZ_TARGETS=fuzz-cfg FUZZ_SECONDS=60 ci/fuzz.sh
#
# Each target starts from its committed corpus (test/fuzz/corpus/NAME/,
# read only: new inputs go to a scratch directory) and stops at the first
# crash, leak, timeout (10 s per input) or out-of-memory (2 GiB). The
# offending input is kept under test/fuzz/artifacts/NAME/ and its path is
# printed; add it to the corpus once fixed, so the `fuzz` suite replays it
# forever. Exit status: 0 when every target ran clean, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
: "${FUZZ_SECONDS:=60}"
dir=${FUZZ_BUILD_DIR:-build-fuzz}

if [ -z "${FUZZ_TARGETS:-}" ]; then
	FUZZ_TARGETS=$(for f in test/fuzz/fuzz-*.c; do basename "$f" .c; done)
fi
set -- $FUZZ_TARGETS
n=$#
if [ "$n" -eq 0 ]; then
	echo "fuzz: no targets" >&2
	exit 1
fi
per=$((FUZZ_SECONDS / n))
[ "$per" -lt 1 ] && per=1

# A directory configured before fuzzers was a feature is set up afresh.
if [ -f "$dir/build.ninja" ] &&
	! grep -q '"fault_injection"' "$dir/meson-info/intro-buildoptions.json" 2>/dev/null; then
	rm -rf "$dir"
fi
if [ ! -f "$dir/build.ninja" ]; then
	log=$(mktemp "${TMPDIR:-/tmp}/bg-fuzz-setup.XXXXXX")
	CC=clang meson setup "$dir" -Db_sanitize=address -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link -Dfuzzers=enabled -Dtests=disabled \
		-Dbenchmarks=disabled -Dfuzzers_link_args=-fsanitize=fuzzer >"$log" 2>&1 || {
		cat "$log" >&2
		rm -f "$log"
		echo "fuzz: meson setup $dir failed (above)" >&2
		exit 1
	}
	rm -f "$log"
fi
ninja_targets=""
for t in "$@"; do
	ninja_targets="$ninja_targets test/$t"
done
# shellcheck disable=SC2086
if ! ninja -C "$dir" $ninja_targets; then
	echo "fuzz: building$ninja_targets failed" >&2
	exit 1
fi

status=0
for t in "$@"; do
	corpus=test/fuzz/corpus/$t
	art=test/fuzz/artifacts/$t
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/bg-fuzz-$t.XXXXXX")
	mkdir -p "$art" "$corpus"
	echo "== $t: ${per}s, corpus $corpus ($(ls "$corpus" | wc -l) inputs)"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$dir/test/$t" \
		-max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$scratch" "$corpus" >"$scratch.log" 2>&1
	rc=$?
	grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' \
		"$scratch.log" || true
	if [ "$rc" -ne 0 ]; then
		status=1
		tail -n 60 "$scratch.log"
		echo "!! $t failed (exit $rc); crashing input(s):"
		for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
			[ -e "$f" ] && echo "   $f  (reproduce: $dir/test/$t $f)"
		done
	else
		echo "ok $t: $(ls "$scratch" | wc -l) new inputs, no crash"
	fi
	rm -rf "$scratch" "$scratch.log"
done
exit $status
