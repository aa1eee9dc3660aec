#!/bin/sh
# run.sh: the operator's entry point. Installs missing Debian packages
# (idempotent; apt only when something is missing), builds bluegreen with
# meson, and passes its arguments to the binary:
#
#   ./run.sh demo          the whole story on the bundled example (examples/demo)
#   ./run.sh test          every test suite (what CI runs); ends "N passed, N failed"
#   ./run.sh bench         the benchmarks (test/bench), figures printed
#   ./run.sh validate ...  any other arguments go to `bluegreen`
set -eu
ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"

BUILD_PKGS="meson ninja-build gcc pkg-config libyaml-dev libcurl4-openssl-dev libjson-c-dev libuv1-dev liblmdb-dev libssl-dev"
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev valgrind python3 python3-jsonschema python3-yaml curl busybox-static nginx-light docker.io wrk hey file"
BENCH_PKGS="docker-compose hey"

need_pkgs() { # print the packages of $@ that are not installed
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
	done
}

install_pkgs() {
	missing=$(need_pkgs "$@")
	[ -z "$missing" ] && return 0
	echo "run.sh: installing: $missing" >&2
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
		echo "run.sh: missing packages ($missing) and not root: install them and run again" >&2
		exit 1
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() { # build DIR [meson options]: configure once, then ninja
	dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}

# Start dockerd when nothing answers (machines without systemd, CI).
ensure_docker() {
	docker info >/dev/null 2>&1 && return 0
	command -v dockerd >/dev/null 2>&1 || { echo "run.sh: dockerd not installed" >&2; return 1; }
	echo "run.sh: starting dockerd (log: /tmp/bluegreen-dockerd.log)" >&2
	if [ "$(id -u)" -eq 0 ]; then
		nohup dockerd >/tmp/bluegreen-dockerd.log 2>&1 &
	else
		sudo sh -c 'nohup dockerd >/tmp/bluegreen-dockerd.log 2>&1 &'
	fi
	i=0
	while ! docker info >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 60 ] && { echo "run.sh: dockerd did not start; see /tmp/bluegreen-dockerd.log" >&2; return 1; }
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
