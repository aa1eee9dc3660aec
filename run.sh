#!/bin/sh
# run.sh: the operator's entry point. Installs missing Debian packages
# (idempotent; apt only when something is missing), builds bluegreen with
# meson, and passes its arguments to the binary:
#
#   ./run.sh demo          the whole story on the bundled example (examples/demo)
#   ./run.sh test          every test suite (what CI runs); ends "N passed, N failed"
#   ./run.sh bench         the benchmarks (test/bench), figures printed
#   ./run.sh package       the release ZIP: build/dist/bluegreen-X.Y.Z.zip (+ .sha256)
#   ./run.sh validate ...  any other arguments go to `bluegreen`
#
# The product (build/) needs the product's packages only: no test tool, no
# Docker for anything but `demo` (tests, fuzzers and benchmarks are meson
# features that build only when their dependencies are there). A failing
# step prints its tool's own output, then what to do, and exits non-zero.
set -eu
ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"

# libc6-dev: gcc is installed without recommends, and a minimal Debian
# has no C library headers.
BUILD_PKGS="meson ninja-build gcc libc6-dev pkg-config libyaml-dev libcurl4-openssl-dev libjson-c-dev libuv1-dev liblmdb-dev libssl-dev zlib1g-dev"
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev valgrind python3 python3-jsonschema python3-yaml curl busybox-static nginx-light docker.io wrk hey file git zip unzip scdoc mmdebstrap certbot pebble python3-websockets openssl"
BUILD_PKGS="$BUILD_PKGS libmicrohttpd-dev" # the cockpit's HTTP server (issue 15)
BUILD_PKGS="$BUILD_PKGS libarchive-dev" # plugin sets: zips read, tar build contexts (issue 16)
# docker-registry: t-rollback-to pulls back by digest from a private
# registry (issue 13); prometheus: promtool checks the cockpit's /metrics;
# strace: t-cockpit-live proves safe mode never opens the Docker socket.
TEST_PKGS="$TEST_PKGS docker-registry prometheus strace"
TEST_PKGS="$TEST_PKGS chromium chromium-driver python3-selenium" # issue 15: t-cockpit-browser (E)
# Test tools whose Debian package also starts a network service: the tests
# run their own instance, so a freshly installed one is stopped and disabled.
NO_SERVICE_PKGS="docker-registry prometheus"
BENCH_PKGS="docker-compose hey"

need_pkgs() { # print the packages of $@ that are not installed
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
	done
}

# run QUIET_CMD...: run a command with its output kept aside; on failure
# print that output and return its status.
run_quiet() {
	log=$(mktemp "${TMPDIR:-/tmp}/bg-run.XXXXXX")
	if "$@" >"$log" 2>&1; then
		rm -f "$log"
		return 0
	else
		rc=$?
		cat "$log" >&2
		rm -f "$log"
		return $rc
	fi
}

install_pkgs() {
	missing=$(need_pkgs "$@")
	[ -z "$missing" ] && return 0
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
		echo "run.sh: missing packages ($missing) and not root: install them and run again" >&2
		exit 1
	fi
	echo "run.sh: installing: $missing" >&2
	if ! run_quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q; then
		echo "run.sh: apt-get update failed (above): check the network and /etc/apt/sources.list*, then run again" >&2
		exit 1
	fi
	# shellcheck disable=SC2086
	if ! run_quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; then
		echo "run.sh: installing $missing failed (above): install them with apt-get, then run again" >&2
		exit 1
	fi
	[ -d /run/systemd/system ] || return 0
	for p in $missing; do
		case " $NO_SERVICE_PKGS " in
		*" $p "*) $SUDO systemctl disable --now "$p.service" >/dev/null 2>&1 &&
			echo "run.sh: $p's own service stopped and disabled (the tests run their own)" >&2 ;;
		esac
	done
	return 0
}

# The source directory DIR was configured for (meson-info.json), or nothing.
configured_src() {
	[ -f "$1/meson-info/meson-info.json" ] || return 0
	sed -n 's/.*"directories": *{"source": *"\([^"]*\)".*/\1/p' "$1/meson-info/meson-info.json"
}

build() { # build DIR [meson options]: configure once, then ninja
	dir=$1; shift
	# meson bakes absolute paths (the built-in profiles' directory among
	# them): a tree moved or copied after its first build gets a fresh
	# setup. Only meson's files go; dist/ (./run.sh package) stays. meson
	# records the real path; a JSON-escaped one (\) cannot be compared.
	was=$(configured_src "$dir")
	here=$(pwd -P)
	case $was in
	"" | "$here" | *\\*) ;;
	*)
		echo "run.sh: $dir/ was set up for $was, not $here (the tree moved): setting it up afresh" >&2
		find "$dir" -mindepth 1 -maxdepth 1 ! -name dist -exec rm -rf {} +
		;;
	esac
	if [ ! -f "$dir/build.ninja" ]; then
		# A setup that failed earlier leaves a directory meson will not reuse.
		[ -d "$dir/meson-private" ] && rm -rf "$dir/meson-private" "$dir/meson-logs" "$dir/meson-info"
		echo "run.sh: building $dir/ (first time: about a minute)" >&2
		if ! run_quiet meson setup "$dir" "$@"; then
			echo "run.sh: configuring $dir failed (meson's message above; log: $dir/meson-logs/meson-log.txt): install what it names, then run ./run.sh again" >&2
			exit 1
		fi
	fi
	if ! run_quiet ninja -C "$dir"; then
		echo "run.sh: building in $dir failed (ninja's and the compiler's messages above): fix or report it, then run ./run.sh again" >&2
		exit 1
	fi
}

# Start dockerd when nothing answers (machines without systemd, CI). When
# it does not come up, show the end of its log and what to do.
ensure_docker() {
	docker info >/dev/null 2>&1 && return 0
	command -v dockerd >/dev/null 2>&1 || { echo "run.sh: dockerd not installed" >&2; return 1; }
	dlog=${TMPDIR:-/tmp}/bluegreen-dockerd.log
	echo "run.sh: starting dockerd (log: $dlog)" >&2
	dpid=
	if [ "$(id -u)" -eq 0 ]; then
		nohup dockerd >"$dlog" 2>&1 &
		dpid=$!
	else
		sudo sh -c 'nohup dockerd >"$1" 2>&1 &' sh "$dlog"
	fi
	i=0
	while ! docker info >/dev/null 2>&1; do
		i=$((i + 1))
		why=
		[ $i -gt 60 ] && why="did not answer within 30 s"
		# Ours (root): no need to wait the 30 s once it has exited.
		[ -n "$dpid" ] && ! kill -0 "$dpid" 2>/dev/null && why="exited"
		if [ -n "$why" ]; then
			echo "run.sh: dockerd $why; the end of $dlog:" >&2
			tail -n 15 "$dlog" 2>/dev/null | sed 's/^/    /' >&2
			echo "run.sh: start Docker yourself (systemctl start docker, or dockerd as root), then run" \
				"./run.sh again; inside a container, give it the host's Docker instead:" \
				"docker run -v /var/run/docker.sock:/var/run/docker.sock ..." >&2
			return 1
		fi
		sleep 0.5
	done
}

cmd=${1:-}
case "$cmd" in
test)
	shift
	install_pkgs $BUILD_PKGS $TEST_PKGS
	ensure_docker
	exec ci/all.sh "$@"
	;;
demo)
	shift
	install_pkgs $BUILD_PKGS busybox-static nginx-light docker.io curl file
	ensure_docker
	build build
	exec examples/demo/demo.sh "$@"
	;;
package)
	shift
	install_pkgs git zip scdoc
	exec ci/package.sh "$@"
	;;
bench)
	shift
	install_pkgs $BUILD_PKGS $TEST_PKGS $BENCH_PKGS
	ensure_docker
	exec ci/bench.sh "$@"
	;;
"")
	install_pkgs $BUILD_PKGS
	build build
	exec build/bluegreen --help
	;;
*)
	install_pkgs $BUILD_PKGS
	build build
	exec build/bluegreen "$@"
	;;
esac
