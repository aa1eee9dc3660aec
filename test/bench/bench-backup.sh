#!/bin/sh
# bench-backup.sh: backup and restore time and size (issue 12), bluegreen
# next to the same done by hand, in the same run.
#
# One site behind a private nginx: a 1 GiB volume (data: 512 MiB from
# /dev/urandom then 512 MiB of zeros, two files) mounted by the web
# container, and a MariaDB service (bluegreen-test/mariadb:v1) holding
# about 100 MiB (100 000 rows of RANDOM_BYTES(1024) in a BLOB; the dump
# writes them as hex, --hex-blob, so about 200 MiB of SQL).
#
#   bluegreen gzip   `bluegreen backup SITE` (volumes + dump + config, gzip
#                    level 1, sha256 of every part, fsynced), then restore
#                    of the data volume and the dump (bench-bk-restore:
#                    bk_restore_volume empties and extracts through a
#                    helper container, bk_restore_dump pipes the dump to
#                    `mariadb` by exec)
#   bluegreen plain  the same with --no-compress
#   by hand          `docker run --rm -v VOL:/v:ro bluegreen-test/web:v1
#                    busybox tar -C /v -cf - . > file` and `docker exec db
#                    mariadb-dump --all-databases --single-transaction ...
#                    > file`; restore: `docker run --rm -i -v VOL:/v ...
#                    tar -C /v -xf - < file` (no emptying) and `docker exec
#                    -i db mariadb < file`
#
# The bluegreen backup also saves the database's own volume (dbdata): its
# size is reported apart. Writers (the web container) are stopped for the
# volume restores. Results: $BENCH_JSON when set (ci/bench.sh: the "backup"
# part of build/bench/results.json), else BUILD_DIR/bench/backup.json.
#
#   test/bench/bench-backup.sh [BUILD_DIR]   (default build)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
BG=$BUILD/bluegreen
RESTORE=$BUILD/test/bench-bk-restore
OUT=${BENCH_JSON:-$BUILD/bench/backup.json}
say() { printf 'bench-backup: %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }
for t in docker nginx curl; do
	command -v "$t" >/dev/null 2>&1 || fail "'$t' not found"
done
[ -x "$BG" ] || fail "$BG not built (ninja -C $BUILD)"
[ -x "$RESTORE" ] || fail "$RESTORE not built (ninja -C $BUILD)"
docker info >/dev/null 2>&1 || fail "no docker daemon"
"$ROOT/test/images/build.sh" mariadb >/dev/null || fail "test images could not be built"

RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
SITE=bgbbk-$RUN
W=$(mktemp -d "${TMPDIR:-/tmp}/bg-bench-backup.XXXXXX")
CFG=$W/cfg
cleanup() {
	[ -f "$CFG/nginx/nginx.pid" ] && (cd "$CFG" && nginx -p nginx/ -c nginx.conf -s quit 2>/dev/null)
	ids=$(docker ps -aq --filter "label=io.bluegreen.site=$SITE" 2>/dev/null)
	# shellcheck disable=SC2086 # one id per word
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	ids=$(docker ps -aq --filter "label=io.bluegreen.backup-site=$SITE" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	for v in "$SITE-data" "$SITE-dbdata"; do docker volume rm "$v" >/dev/null 2>&1; done
	for n in "$SITE-net" "$SITE-edge"; do docker network rm "$n" >/dev/null 2>&1; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port_used() { # any local TCP socket on port $1 (from /proc, as bench-switch.sh)
	awk -v h=":$(printf '%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
while :; do
	P1=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000 + 30000 ))
	port_used "$P1" || break
done
now_ms() { date +%s%3N; }

mkdir -p "$CFG/sites" "$CFG/nginx/conf.d" "$CFG/nginx/tmp" "$W/hand"
cat >"$CFG/nginx/nginx.conf" <<EOF
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path tmp/body;
	proxy_temp_path tmp/proxy;
	fastcgi_temp_path tmp/fastcgi;
	uwsgi_temp_path tmp/uwsgi;
	scgi_temp_path tmp/scgi;
	server { listen 127.0.0.1:$P1 default_server; return 404; }
	include conf.d/*.conf;
}
EOF
cat >"$CFG/global.conf" <<EOF
install_mode: development
state_dir: state
edge:
  kind: nginx
  network: $SITE-edge
  nginx:
    conf_dir: nginx/conf.d
    listen: "127.0.0.1:$P1"
    test: [nginx, -p, nginx/, -c, nginx.conf, -t, -q]
    reload: [nginx, -p, nginx/, -c, nginx.conf, -s, reload]
EOF
cat >"$CFG/sites/$SITE.conf" <<EOF
site: $SITE
domains: [$SITE.localhost]
image: bluegreen-test/web:v1
port: 8080
volumes: {data: /data}
services:
  db:
    image: bluegreen-test/mariadb:v1
    volumes: {dbdata: /var/lib/mysql}
    backup: {preset: mariadb}
backup: {keep: 10}
EOF
(cd "$CFG" && nginx -p nginx/ -c nginx.conf) || fail "nginx did not start"
tok=$("$BG" -c "$CFG" --json plan 2>"$W/plan.err" | sed -n 's/^ *"token": *"\([0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$tok" ] || { cat "$W/plan.err"; fail "no plan token"; }
"$BG" -c "$CFG" apply "$tok" >"$W/apply.out" 2>&1 || { cat "$W/apply.out"; fail "deploy failed"; }
WEB=$SITE-blue DB=$SITE-db
i=0
until docker exec "$DB" mariadb -e 'select 1' >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "MariaDB did not start"; sleep 0.1
done

say "filling: 1 GiB volume (512 MiB urandom + 512 MiB zeros), ~100 MiB database"
docker exec "$WEB" /bin/busybox dd if=/dev/urandom of=/data/random bs=1048576 count=512 2>/dev/null
docker exec "$WEB" /bin/busybox dd if=/dev/zero of=/data/zeros bs=1048576 count=512 2>/dev/null
docker exec "$DB" mariadb -e "create database bench; use bench; create table t (i int primary key, b blob);
	insert into t select seq, random_bytes(1024) from seq_1_to_100000;"
sync

size() { stat -c %s "$1"; }
hand_backup() {
	t0=$(now_ms)
	docker run --rm -v "$SITE-data:/v:ro" bluegreen-test/web:v1 /bin/busybox tar -C /v -cf - . >"$W/hand/data.tar"
	t1=$(now_ms)
	docker exec "$DB" mariadb-dump --all-databases --single-transaction --routines --events --hex-blob >"$W/hand/dump.sql"
	t2=$(now_ms)
	HB_VOL_MS=$((t1 - t0)) HB_DUMP_MS=$((t2 - t1))
	HB_VOL_B=$(size "$W/hand/data.tar") HB_DUMP_B=$(size "$W/hand/dump.sql")
}
hand_restore() {
	docker stop "$WEB" >/dev/null
	t0=$(now_ms)
	docker run --rm -i -v "$SITE-data:/v" bluegreen-test/web:v1 /bin/busybox tar -C /v -xf - <"$W/hand/data.tar"
	t1=$(now_ms)
	docker start "$WEB" >/dev/null
	t2=$(now_ms)
	docker exec -i "$DB" mariadb <"$W/hand/dump.sql"
	t3=$(now_ms)
	HR_VOL_MS=$((t1 - t0)) HR_DUMP_MS=$((t3 - t2))
}
bg_run() { # bg_run PREFIX [--no-compress]
	pfx=$1; shift
	t0=$(now_ms)
	"$BG" -c "$CFG" backup "$SITE" "$@" >"$W/bg.out" 2>&1 || { cat "$W/bg.out"; fail "bluegreen backup failed"; }
	t1=$(now_ms)
	id=$(sed -n 's/^backup \([^ ]*\) of.*/\1/p' "$W/bg.out")
	dir=$CFG/state/backups/$SITE/$id
	vol=$(ls "$dir" | grep '^volume-data') dump=$(ls "$dir" | grep '^dump-db') dbv=$(ls "$dir" | grep '^volume-dbdata')
	docker stop "$WEB" >/dev/null
	"$RESTORE" "$CFG" "$id" "$SITE" data db >"$W/restore.out" 2>&1 || { cat "$W/restore.out"; fail "restore failed"; }
	docker start "$WEB" >/dev/null
	eval "${pfx}_MS=$((t1 - t0))"
	eval "${pfx}_VOL_B=$(size "$dir/$vol") ${pfx}_DUMP_B=$(size "$dir/$dump") ${pfx}_DBV_B=$(size "$dir/$dbv")"
	eval "${pfx}_TOTAL_B=$(du -sb "$dir" | cut -f1)"
	eval "${pfx}_RVOL_MS=$(sed -n 's/^volume //p' "$W/restore.out") ${pfx}_RDUMP_MS=$(sed -n 's/^dump //p' "$W/restore.out")"
}

say "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
hand_backup
hand_restore
bg_run GZ
bg_run PL --no-compress
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
say "by hand:        volume tar $HB_VOL_MS ms ($(mib $HB_VOL_B) MiB), dump $HB_DUMP_MS ms ($(mib $HB_DUMP_B) MiB); restore volume $HR_VOL_MS ms, dump $HR_DUMP_MS ms"
say "bluegreen gzip: backup $GZ_MS ms (all parts $(mib $GZ_TOTAL_B) MiB: data $(mib $GZ_VOL_B), dump $(mib $GZ_DUMP_B), dbdata $(mib $GZ_DBV_B)); restore volume $GZ_RVOL_MS ms, dump $GZ_RDUMP_MS ms"
say "bluegreen plain: backup $PL_MS ms (all parts $(mib $PL_TOTAL_B) MiB: data $(mib $PL_VOL_B), dump $(mib $PL_DUMP_B), dbdata $(mib $PL_DBV_B)); restore volume $PL_RVOL_MS ms, dump $PL_RDUMP_MS ms"
mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<EOF
{"backup": {
  "bench": "backup",
  "host_cores": $(nproc),
  "volume": "1 GiB: 512 MiB /dev/urandom + 512 MiB zeros",
  "database": "100000 rows of RANDOM_BYTES(1024), dumped with --hex-blob",
  "by_hand": {"volume_tar_ms": $HB_VOL_MS, "volume_tar_bytes": $HB_VOL_B, "dump_ms": $HB_DUMP_MS,
    "dump_bytes": $HB_DUMP_B, "restore_volume_ms": $HR_VOL_MS, "restore_dump_ms": $HR_DUMP_MS},
  "bluegreen_gzip": {"backup_ms": $GZ_MS, "total_bytes": $GZ_TOTAL_B, "volume_bytes": $GZ_VOL_B,
    "dump_bytes": $GZ_DUMP_B, "dbdata_volume_bytes": $GZ_DBV_B, "restore_volume_ms": $GZ_RVOL_MS,
    "restore_dump_ms": $GZ_RDUMP_MS},
  "bluegreen_plain": {"backup_ms": $PL_MS, "total_bytes": $PL_TOTAL_B, "volume_bytes": $PL_VOL_B,
    "dump_bytes": $PL_DUMP_B, "dbdata_volume_bytes": $PL_DBV_B, "restore_volume_ms": $PL_RVOL_MS,
    "restore_dump_ms": $PL_RDUMP_MS}
}}
EOF
say "results in $OUT"
