#!/bin/sh
# switch-phases: where the time of one switch (`apply TOKEN`) and one
# rollback (`rollback SITE --yes`) goes, on real Docker and a private nginx
# set up as bench-switch.sh does (one site, v1 live, v2 as candidate), but
# without load: the point is the split per stage, not the figure under load.
# Each repetition deploys a candidate, then times the switch and the
# rollback (wall, from the shell); with PHASES_STRACE=1 each command runs
# under `strace -f -ttt` with --trace=all, and the trace files are kept in
# the work directory for test/bench/switch-phases.py to split into stages.
# Env: BG (binary, default build/bluegreen), PHASES_REPS (5), PHASES_DAEMON
# (1: a watch daemon runs and the commands hand over), PHASES_STRACE (0/1),
# PHASES_OUT (a file the "phase ms" lines are appended to), PHASES_VS (a
# second binary: each repetition then also switches and rolls back with it,
# the order alternating, lines and traces named with a -vs suffix; the
# daemon, if any, stays $BG's).
# Run it under the docker lock: flock -o /tmp/bg-docker.lock test/bench/switch-phases.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BG=${BG:-$ROOT/build/bluegreen}
REPS=${PHASES_REPS:-5}
VS=${PHASES_VS:-}
DAEMON=${PHASES_DAEMON:-0}
STRACE=${PHASES_STRACE:-0}
OUT=${PHASES_OUT:-/dev/stdout}
say() { printf 'switch-phases: %s\n' "$*" >&2; }
fail() { say "cannot run: $*"; exit 1; }
[ -x "$BG" ] || fail "$BG not built"
"$ROOT/test/images/build.sh" >/dev/null || fail "test images could not be built"

RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
SITE=bgph-$RUN
W=$(mktemp -d "${TMPDIR:-/tmp}/bg-phases.XXXXXX")
# nginx's workers (nobody) stat the edge's flag files under it: without
# this, every switch reloads (edge-nginx-reach.c), as bench-switch.sh does.
chmod 755 "$W"
CFG=$W/cfg
DPID=
P1=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000))
cleanup() {
	if [ -n "$DPID" ]; then
		# under strace, DPID is strace's: stop the daemon itself first
		for c in $(pgrep -P "$DPID"); do kill "$c" 2>/dev/null; done
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	[ -f "$CFG/nginx/nginx.pid" ] && (cd "$CFG" && nginx -p nginx/ -c nginx.conf -s quit 2>/dev/null)
	ids=$(docker ps -aq --filter "label=io.bluegreen.site=$SITE" 2>/dev/null)
	# shellcheck disable=SC2086 # one id per word
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	for n in "$SITE-net" "$SITE-edge"; do docker network rm "$n" >/dev/null 2>&1; done
	if [ "${PHASES_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$CFG/sites" "$CFG/nginx/conf.d" "$CFG/nginx/tmp" "$W/log" "$W/trace"
cat >"$CFG/nginx/nginx.conf" <<EOC
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 1024; }
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
EOC
cat >"$CFG/global.conf" <<EOC
install_mode: production
profile: infra-only
state_dir: state
edge:
  kind: nginx
  network: $SITE-edge
  nginx:
    conf_dir: nginx/conf.d
    listen: "127.0.0.1:$P1"
    test: [nginx, -p, nginx/, -c, nginx.conf, -t, -q]
    reload: [nginx, -p, nginx/, -c, nginx.conf, -s, reload]
EOC
site_conf() {
	cat >"$CFG/sites/$SITE.conf" <<EOC
site: $SITE
domains: [$SITE.localhost]
preview: preview.$SITE.localhost
image: bluegreen-test/web:$1
port: 8080
env: {BENCH_REP: "$2"}
health:
  path: /healthz
  interval: 200ms
  timeout: 1s
  retries: 25
strategy:
  promote: manual
  keep_previous: true
  drain: 1s
stop_timeout: 2s
EOC
}
token() { "$BG" -c "$CFG" --json plan 2>>"$W/log/plan.err" | sed -n 's/^ *"token": *"\([0-9a-f]*\)".*/\1/p' | head -n 1; }
now_ns() { date +%s%N; }
daemon_settled() {
	i=0
	while [ $i -lt 200 ]; do
		awk '/^=== plan / { p = NR; next } /^=== / { a = NR } END { exit !(p && p > a) }' \
			"$W/log/daemon.out" 2>/dev/null && break
		sleep 0.05; i=$((i + 1))
	done
	sleep 0.3
}
# timed NAME REP CMD...: one command, wall ms to $OUT
timed() {
	name=$1 rep=$2; shift 2
	if [ "$STRACE" = 1 ]; then
		set -- strace -f -ttt -s 300 --seccomp-bpf ${PHASES_STRACE_K:+-k} -o "$W/trace/$name.$rep" \
			-e trace=execve,openat,connect,sendto,sendmsg,write,writev,fsync,fdatasync,msync,kill,rename,renameat2,exit_group \
			env BLUEGREEN_TRACE=all "$@"
	fi
	t0=$(now_ns)
	"$@" >"$W/log/$name.$rep.out" 2>&1
	rc=$?
	t1=$(now_ns)
	echo "$name $(( (t1 - t0) / 1000000 )) rc=$rc mode=$([ "$DAEMON" = 1 ] && echo daemon || echo cli) strace=$STRACE" >>"$OUT"
	[ $rc = 0 ] || { say "$name failed:"; cat "$W/log/$name.$rep.out" >&2; }
}
(cd "$CFG" && nginx -p nginx/ -c nginx.conf) || fail "nginx did not start"
site_conf v1 0
tok=$(token); [ -n "$tok" ] || fail "no first plan"
"$BG" -c "$CFG" apply "$tok" >"$W/log/first.out" 2>&1 || { cat "$W/log/first.out"; fail "first deploy"; }
if [ "$DAEMON" = 1 ]; then
	if [ "$STRACE" = 1 ]; then
		strace -f -ttt -s 300 --seccomp-bpf -o "$W/trace/daemon" \
			-e trace=execve,openat,connect,sendto,sendmsg,recvfrom,write,writev,fsync,fdatasync,kill,rename,accept4,exit_group \
			env BLUEGREEN_TRACE=apply,edge,loop "$BG" -c "$CFG" watch >>"$W/log/daemon.out" 2>&1 &
	else
		"$BG" -c "$CFG" watch >>"$W/log/daemon.out" 2>&1 &
	fi
	DPID=$!
	i=0; while [ $i -lt 200 ] && ! [ -S "$CFG/state/control.sock" ]; do sleep 0.05; i=$((i + 1)); done
	daemon_settled
fi
say "load average $(cut -d' ' -f1-3 /proc/loadavg); $REPS repetitions; daemon=$DAEMON strace=$STRACE"
# one_rep REP BINARY SUFFIX: a candidate (with $BG), then the switch and the rollback with BINARY
one_rep() {
	site_conf v2 "$1$3"
	[ "$DAEMON" = 1 ] && daemon_settled
	tok=$(token); [ -n "$tok" ] || fail "no candidate plan"
	"$BG" -c "$CFG" apply "$tok" >"$W/log/cand.$1$3.out" 2>&1 || { cat "$W/log/cand.$1$3.out"; fail "candidate"; }
	[ "$DAEMON" = 1 ] && daemon_settled
	tok=$(token); [ -n "$tok" ] || fail "no switch plan"
	timed "switch$3" "$1" "$2" -c "$CFG" apply "$tok"
	[ "$DAEMON" = 1 ] && daemon_settled
	timed "rollback$3" "$1" "$2" -c "$CFG" rollback "$SITE" --yes
	[ "$DAEMON" = 1 ] && daemon_settled
}
r=1
while [ $r -le "$REPS" ]; do
	[ -n "$VS" ] && [ $((r % 2)) = 0 ] && one_rep "$r" "$VS" -vs
	one_rep "$r" "$BG" ""
	[ -n "$VS" ] && [ $((r % 2)) = 1 ] && one_rep "$r" "$VS" -vs
	r=$((r + 1))
done
say "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
