#!/bin/sh
# Build bluegreen-test/mariadb:v1 (called by ../build.sh mariadb): a Debian
# bookworm root filesystem made by mmdebstrap (--variant=essential plus
# mariadb-server and mariadb-client, from the host's Debian mirror), with
# bg-mariadb-start as its entrypoint: it initialises /var/lib/mysql when
# empty and execs mariadbd (PID 1, --user=mysql). root reaches the server
# over the local socket (unix_socket auth), so the `mariadb` backup preset
# (mariadb-dump --all-databases ...) works through docker exec.
#
# Cached by input hash: the image carries the label bluegreen-test.inputs,
# a hash of this script, bg-mariadb-start and the mirror; when it lacks it
# or has another, it is built again (a few minutes). BG_IMAGES_REBUILD=1
# forces it.
#
#   build-mariadb.sh WORKDIR   (a scratch directory the caller removes)
set -eu
work=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null 2>&1 ||
	{ echo "build-mariadb.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

mirror=$(sh "$here/../debian-mirror.sh")

inputs=$( (cat "$0" "$here/bg-mariadb-start"; printf '%s\n' "$mirror") | sha256sum | cut -c1-16)
label="LABEL bluegreen-test.inputs=$inputs"

have() {
	[ "${BG_IMAGES_REBUILD:-0}" != 1 ] || return 1
	got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' "$1" 2>/dev/null) ||
		return 1
	[ "$got" = "$inputs" ]
}
have bluegreen-test/mariadb:v1 && exit 0

start=$(date +%s)
# Documentation, manuals and translations are of no use to a test server.
# copy-in is one of mmdebstrap's own hooks (no shell).
mmdebstrap --variant=essential --quiet --include=mariadb-server,mariadb-client \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook="copy-in $here/bg-mariadb-start /usr/local/sbin" \
	bookworm "$work/mariadb.tar" "$mirror" >"$work/mmdebstrap-mariadb.log" 2>&1 || {
	cat "$work/mmdebstrap-mariadb.log" >&2
	echo "build-mariadb.sh: mmdebstrap could not build a bookworm root filesystem from $mirror" >&2
	exit 1
}
docker import -c 'ENTRYPOINT ["/usr/local/sbin/bg-mariadb-start"]' -c 'CMD []' \
	-c 'VOLUME /var/lib/mysql' -c 'EXPOSE 3306' -c "$label" \
	"$work/mariadb.tar" bluegreen-test/mariadb:v1 >/dev/null
rm -f "$work/mariadb.tar"
echo "bluegreen-test/mariadb:v1 built in $(($(date +%s) - start)) s"
