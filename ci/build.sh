#!/bin/sh
# build.sh DIR KIND: configure (once) and build with warnings as errors.
#   KIND gcc         gcc, -Werror; fault injection off, like a shipped binary
#   KIND clang-asan  clang, -Werror, ASan + UBSan, no recovery, with the
#                    BLUEGREEN_FAULT kill points (the docker suite uses them)
# Both build the tests and benchmarks (`enabled`: a missing cmocka is an
# error, not a silently smaller build); ci/fuzz.sh builds the fuzzers.
# Meson's own output is printed only when configuring fails.
set -eu
dir=$1 kind=$2
cd "$(dirname "$0")/.."
common="--werror -Dtests=enabled -Dbenchmarks=enabled -Dfuzzers=disabled -Dman=enabled"
# A directory configured before these options existed is set up afresh.
if [ -f "$dir/build.ninja" ] &&
	! grep -q '"fault_injection"' "$dir/meson-info/intro-buildoptions.json" 2>/dev/null; then
	rm -rf "$dir"
fi
if [ ! -f "$dir/build.ninja" ]; then
	log=$(mktemp "${TMPDIR:-/tmp}/bg-setup.XXXXXX")
	# shellcheck disable=SC2086
	case "$kind" in
	gcc) CC=gcc meson setup "$dir" $common -Dfault_injection=false >"$log" 2>&1 ;;
	clang-asan) CC=clang meson setup "$dir" $common -Dfault_injection=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all >"$log" 2>&1 ;;
	*) echo "build.sh: unknown kind $kind" >&2; rm -f "$log"; exit 2 ;;
	esac || { cat "$log" >&2; rm -f "$log"; echo "build.sh: meson setup $dir failed (above)" >&2; exit 1; }
	rm -f "$log"
fi
ninja -C "$dir"
