#!/bin/sh
# Build bluegreen-test/postgres:v1 (called by ../build.sh postgres): a
# Debian bookworm root filesystem made by mmdebstrap (--variant=essential
# plus postgresql, i.e. PostgreSQL 15 and its clients, from the host's
# Debian mirror), with bg-postgres-start as its entrypoint: it initialises
# /var/lib/postgresql/data when empty and execs the image's CMD, the
# postgres server (argv only), as user postgres. Authentication is trust on
# the local socket and the container network (a test server), so the
# `postgres` backup preset (pg_dumpall / psql -U postgres) works through
# docker exec.
#
# Cached by input hash like mariadb/build-mariadb.sh: the image carries the
# label bluegreen-test.inputs, a hash of this script, bg-postgres-start and
# the mirror; when it lacks it or has another, it is built again (a few
# minutes). BG_IMAGES_REBUILD=1 forces it.
#
#   build-postgres.sh WORKDIR   (a scratch directory the caller removes)
set -eu
work=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null 2>&1 ||
	{ echo "build-postgres.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

mirror=$(sh "$here/../debian-mirror.sh")

inputs=$( (cat "$0" "$here/bg-postgres-start"; printf '%s\n' "$mirror") | sha256sum | cut -c1-16)
label="LABEL bluegreen-test.inputs=$inputs"

have() {
	[ "${BG_IMAGES_REBUILD:-0}" != 1 ] || return 1
	got=$(docker image inspect -f '{{index .Config.Labels "bluegreen-test.inputs"}}' "$1" 2>/dev/null) ||
		return 1
	[ "$got" = "$inputs" ]
}
have bluegreen-test/postgres:v1 && exit 0

start=$(date +%s)
# Documentation, manuals and translations are of no use to a test server.
# The package's own cluster (15/main) is not created: the entrypoint makes
# its own in the volume. copy-in is one of mmdebstrap's own hooks (no shell).
mmdebstrap --variant=essential --quiet --include=postgresql \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--essential-hook='mkdir -p "$1/etc/postgresql-common"' \
	--essential-hook='echo create_main_cluster = false > "$1/etc/postgresql-common/createcluster.conf"' \
	--customize-hook="copy-in $here/bg-postgres-start /usr/local/sbin" \
	bookworm "$work/postgres.tar" "$mirror" >"$work/mmdebstrap-postgres.log" 2>&1 || {
	cat "$work/mmdebstrap-postgres.log" >&2
	echo "build-postgres.sh: mmdebstrap could not build a bookworm root filesystem from $mirror" >&2
	exit 1
}
docker import -c 'ENTRYPOINT ["/usr/local/sbin/bg-postgres-start"]' \
	-c 'CMD ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data", "-c", "listen_addresses=*"]' \
	-c 'VOLUME /var/lib/postgresql/data' -c 'EXPOSE 5432' -c "$label" \
	"$work/postgres.tar" bluegreen-test/postgres:v1 >/dev/null
rm -f "$work/postgres.tar"
echo "bluegreen-test/postgres:v1 built in $(($(date +%s) - start)) s"
