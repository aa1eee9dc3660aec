#!/bin/sh
# Build bluegreen-test/ws:v1 and :v2 (called by ../build.sh ws): a Debian
# bookworm root filesystem made by mmdebstrap (--variant=essential plus
# python3-websockets, from the host's Debian mirror), with server.py,
# imported as ws:v1; ws:v2 is the same image with BG_WS_VERSION=v2 (a
# `docker build` FROM ws:v1, legacy builder, no registry).
#
# Cached by input hash: both carry the label bluegreen-test.inputs, a hash
# of this script, server.py and the mirror; when either image lacks it or
# has another, both are built again (~1 min). BG_IMAGES_REBUILD=1 forces it.
#
#   build-ws.sh WORKDIR   (a scratch directory the caller removes)
set -eu
work=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null 2>&1 ||
	{ echo "build-ws.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

# The host's Debian mirror for bookworm.
mirror=$(sh "$here/../debian-mirror.sh")

inputs=$( (cat "$0" "$here/server.py"; printf '%s\n' "$mirror") | sha256sum | cut -c1-16)
label="LABEL bluegreen-test.inputs=$inputs"

have() {
	[ "${BG_IMAGES_REBUILD:-0}" != 1 ] || return 1
	got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' "$1" 2>/dev/null) ||
		return 1
	[ "$got" = "$inputs" ]
}
have bluegreen-test/ws:v1 && have bluegreen-test/ws:v2 && exit 0

start=$(date +%s)
# Documentation, manuals and translations are of no use to a test server.
# copy-in is one of mmdebstrap's own hooks (no shell); /srv is base-files'.
mmdebstrap --variant=essential --quiet --include=python3-websockets \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook="copy-in $here/server.py /srv" \
	bookworm "$work/ws.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 || {
	cat "$work/mmdebstrap.log" >&2
	echo "build-ws.sh: mmdebstrap could not build a bookworm root filesystem from $mirror" >&2
	exit 1
}
docker import -c 'CMD ["/usr/bin/python3", "/srv/server.py"]' -c 'ENV BG_WS_VERSION=v1' \
	-c 'EXPOSE 8080' -c "$label" \
	"$work/ws.tar" bluegreen-test/ws:v1 >/dev/null
rm -f "$work/ws.tar"
mkdir -p "$work/ws-v2"
printf 'FROM bluegreen-test/ws:v1\nENV BG_WS_VERSION=v2\n%s\n' "$label" >"$work/ws-v2/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t bluegreen-test/ws:v2 "$work/ws-v2" >/dev/null 2>"$work/build.err" ||
	{ cat "$work/build.err" >&2; exit 1; }
echo "bluegreen-test/ws:v1 v2 built in $(($(date +%s) - start)) s"
