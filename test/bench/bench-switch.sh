#!/bin/sh
# bench-switch.sh: switching versions without downtime vs recreating (issue 4).
#
# One web service behind one private nginx (127.0.0.1, a free port), under a
# steady load through nginx, deployed two ways in the same run:
#
#   bluegreen       site on v1; then v2 as candidate (apply), then the switch
#                   (apply TOKEN), then `rollback SITE --yes`.
#   docker-compose  the same image as one compose service, published on
#                   127.0.0.1:PORT with nginx proxying to it (same proxy
#                   directives as bluegreen's generated file); update = edit
#                   the image to v2 and `docker-compose up -d` (which
#                   recreates the container); rollback = back to v1, `up -d`.
#
# Both use the same stop grace period (2 s: the site's stop_timeout and the
# service's stop_grace_period) and the same images (test/images/build.sh:
# bluegreen-test/web:vN answers "vN" at /, "ok" at /healthz, and
# /cgi-bin/slow answers after 1 s).
#
# Each phase (a command under load) runs:
#   - hey, steady rate-limited load on /: -c $BENCH_SWITCH_CONC workers x
#     -q $BENCH_SWITCH_QPS requests/s each (rate-limited so that the load
#     does not starve the commands being timed on a small host; a closed-loop
#     tool such as wrk would saturate both cores);
#   - hey, 4 workers x 1 request/s on /cgi-bin/slow (answers after 1 s):
#     requests in flight at the moment of the switch;
#   - bench-probe, one GET / every 10 ms (new connection each): which version
#     answered when.
# Load starts $PRE s before the command and stops $POST s after the expected
# version is first seen (at most 20 s after the command returned).
#
# Figures per phase: failed requests (non-2xx responses + socket errors, as
# hey reports them) out of the total; the same for the in-flight slow
# requests; the command's wall time; the time from the command's start to
# the first response of the new version; the probe-visible outage (first to
# last failed probe). $REPS repetitions (BENCH_SWITCH_REPS, default 3),
# medians printed, then compose/bluegreen ratios.
#
# Every object is named and labelled with a run id and removed at exit:
# containers (io.bluegreen.site=bgbsw-ID; compose project bgbswcID, label
# bench.run=ID), networks bgbsw-ID-net and bgbsw-ID-edge, the nginx (its own
# prefix and port), the work directory (kept with BENCH_KEEP=1).
#
# With BENCH_JSON=FILE, the same figures also go to FILE as JSON (the
# "switch" part of build/bench/results.json, docs/benchmarks.md), nothing
# else printed.
#
# Before/after (issue 11): BENCH_SWITCH_VS=PATH names a second bluegreen
# binary (e.g. a release build of an older commit) that runs the same
# candidate, switch and rollback in the same run, pair by pair on the same
# site, nginx and load: each repetition runs both, the order alternating
# (this binary first in odd repetitions, PATH first in even ones), so the
# host's drift and noise hit both sides. Its phases are named bg-*-vs; the
# candidates of both sides run without load (their time is not compared).
# The summary adds per-pair ratios (PATH / this binary) and JSON a
# "switch.vs" object. Both binaries must read the same state format.
# BENCH_SWITCH_COMPOSE=0 leaves the docker-compose phases out (figures null).
#
# BENCH_SWITCH_DAEMON=1 (issue 11): each binary's own watch daemon runs
# during its candidate, switch and rollback (started before, stopped
# after, per repetition), so `apply TOKEN` and `rollback --yes` are handed
# to it over its control socket; the phases time the client command as
# before. Before each timed phase the bench waits until the daemon has
# printed a plan since the last apply (its re-list after an apply is done).
#
# BENCH_SWITCH_VS=reload (issue 11): the paired side is this same binary
# with BLUEGREEN_EDGE_FORCE_RELOAD=1 in its environment (and its daemon's),
# so its nginx switches go the reload path (write, test, SIGHUP, hand-over)
# where this side's are a flag change: both paths in one run.
# BENCH_SWITCH_LOAD=0: no hey load during the phases (the probe still runs).
#
# Environment: BUILD (default build-bench), BENCH_SWITCH_REPS (3),
# BENCH_SWITCH_CONC (8), BENCH_SWITCH_QPS (25 per worker),
# BENCH_SWITCH_PROBE_MS (10: the probe's interval, so the resolution of
# "new after"), BENCH_SWITCH_VS, BENCH_SWITCH_COMPOSE (1), BENCH_KEEP,
# BENCH_JSON.
# Exit 0 when every phase ran (whatever the figures), 1 when something
# needed is missing or a command failed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BG=$BUILD/bluegreen
PROBE=$BUILD/test/bench-probe
REPS=${BENCH_SWITCH_REPS:-3}
CONC=${BENCH_SWITCH_CONC:-8}
QPS=${BENCH_SWITCH_QPS:-25}
PROBE_MS=${BENCH_SWITCH_PROBE_MS:-10}
VS=${BENCH_SWITCH_VS:-}
VS_RELOAD=0
[ "$VS" = reload ] && VS=$BG VS_RELOAD=1
LOAD=${BENCH_SWITCH_LOAD:-1}
COMPOSE=${BENCH_SWITCH_COMPOSE:-1}
DAEMON=${BENCH_SWITCH_DAEMON:-0}
DPID=
PRE=2
POST=2

say() { printf 'bench-switch: %s\n' "$*"; }
fail() { say "cannot run: $*"; exit 1; }

# ---- what is needed ----
# docker-compose only for its own phases (BENCH_SWITCH_COMPOSE=0 runs without it)
for t in docker $([ "$COMPOSE" = 1 ] && echo docker-compose) nginx hey curl; do
	command -v "$t" >/dev/null 2>&1 || fail "'$t' not found (./run.sh bench installs it)"
done
[ -x "$BG" ] || fail "$BG not built (ninja -C $BUILD)"
[ -x "$PROBE" ] || fail "$PROBE not built (ninja -C $BUILD)"
[ -z "$VS" ] || [ -x "$VS" ] || fail "BENCH_SWITCH_VS: $VS is not an executable"
docker info >/dev/null 2>&1 || fail "no docker daemon (./run.sh bench starts one)"
"$ROOT/test/images/build.sh" >/dev/null || fail "test images could not be built (test/images/build.sh)"

RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
SITE=bgbsw-$RUN
PROJ=bgbswc$RUN
W=$(mktemp -d "${TMPDIR:-/tmp}/bg-bench-switch.XXXXXX")
# nginx's workers (nobody) stat the edge's flag files under it (issue 11).
chmod 755 "$W"
PIDS=
CFG=$W/cfg

cleanup() {
	for p in $PIDS $DPID; do kill "$p" 2>/dev/null; done
	if [ -f "$CFG/nginx/nginx.pid" ]; then
		(cd "$CFG" && nginx -p nginx/ -c nginx.conf -s quit 2>/dev/null)
	fi
	if [ -f "$W/compose/docker-compose.yml" ]; then
		docker-compose -p "$PROJ" -f "$W/compose/docker-compose.yml" down -v --remove-orphans \
			>/dev/null 2>&1
	fi
	ids=$(docker ps -aq --filter "label=io.bluegreen.site=$SITE" 2>/dev/null)
	# shellcheck disable=SC2086 # one id per word
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	ids=$(docker ps -aq --filter "label=bench.run=$RUN" 2>/dev/null)
	# shellcheck disable=SC2086 # one id per word
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	for n in "$SITE-net" "$SITE-edge"; do
		docker network rm "$n" >/dev/null 2>&1
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_used() { # port_used PORT: any local TCP socket on it (from /proc, no iproute2)
	awk -v h=":$(printf '%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() { # a free TCP port in 20000..29999, not $1
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000 + 20000 ))
		[ "$p" = "${1:-}" ] && continue
		port_used "$p" || { echo "$p"; return; }
	done
}
P1=$(free_port)
P2=$(free_port "$P1")
now_ms() { date +%s%3N; }

# ---- the private nginx, the bluegreen config, the compose project ----
mkdir -p "$CFG/sites" "$CFG/nginx/conf.d" "$CFG/nginx/tmp" "$W/compose" "$W/log"
cat >"$CFG/nginx/nginx.conf" <<EOF
# bench-switch: a private nginx (own prefix, pid file and temp paths).
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path tmp/body;
	proxy_temp_path tmp/proxy;
	fastcgi_temp_path tmp/fastcgi;
	uwsgi_temp_path tmp/uwsgi;
	scgi_temp_path tmp/scgi;
	server {
		listen 127.0.0.1:$P1 default_server;
		return 404 "no site for this host\n";
	}
	include conf.d/*.conf;
}
EOF
# The compose service behind the same nginx, with the proxy directives
# bluegreen's nginx edge writes (reconcilers/edge/edge-nginx.c).
cat >"$CFG/nginx/conf.d/compose-bench.conf" <<EOF
upstream bench_compose_live {
	server 127.0.0.1:$P2;
	keepalive 16;
}
server {
	listen 127.0.0.1:$P1;
	server_name compose.$SITE.localhost;
	location / {
		proxy_pass http://bench_compose_live;
		proxy_http_version 1.1;
		proxy_set_header Connection "";
		proxy_set_header Host \$host;
		proxy_set_header X-Real-IP \$remote_addr;
		proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		proxy_set_header X-Forwarded-Proto \$scheme;
		proxy_set_header X-Forwarded-Host \$host;
	}
}
EOF
cat >"$CFG/global.conf" <<EOF
# bench-switch: one site behind a private nginx
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
EOF
site_conf() { # site_conf IMAGE_TAG REP
	cat >"$CFG/sites/$SITE.conf" <<EOF
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
EOF
}
compose_file() { # compose_file IMAGE_TAG
	cat >"$W/compose/docker-compose.yml" <<EOF
version: "3.8"
services:
  web:
    image: bluegreen-test/web:$1
    ports: ["127.0.0.1:$P2:8080"]
    restart: unless-stopped
    stop_grace_period: 2s
    labels: {bench.run: "$RUN"}
EOF
}
compose() { docker-compose -p "$PROJ" -f "$W/compose/docker-compose.yml" "$@"; }

# bluegreen plan -> token (empty when nothing to do); token [BINARY]
token() {
	"${1:-$BG}" -c "$CFG" --json plan 2>>"$W/log/plan.err" |
		sed -n 's/^ *"token": *"\([0-9a-f]*\)".*/\1/p' | head -n 1
}

# wait_for HOST WORD SECONDS: until GET / through nginx answers WORD
wait_for() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		[ "$(curl -s -m 1 -H "Host: $1" "http://127.0.0.1:$P1/" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- one phase: a command under load ----
# phase NAME HOST EXPECT COMMAND...: appends one line to $W/results:
# NAME cmd_ms rc req fail slow_req slow_fail to_new_ms probe_fail outage_ms
hey_counts() { # hey_counts FILE -> "total failed"
	awk '
		/^Status code distribution:/ { sec = "s"; next }
		/^Error distribution:/ { sec = "e"; next }
		/^[A-Za-z]/ { sec = "" }
		sec == "s" && /\[[0-9]+\]/ {
			code = $1; gsub(/[\[\]]/, "", code); n = $2 + 0
			total += n; if (code < 200 || code > 299) failed += n
		}
		sec == "e" && /\[[0-9]+\]/ {
			n = $1; gsub(/[\[\]]/, "", n); total += n; failed += n
		}
		END { printf "%d %d\n", total, failed }' "$1"
}

phase() {
	name=$1 host=$2 expect=$3
	shift 3
	log=$W/log/$name
	h1= h2=
	if [ "$LOAD" = 1 ]; then
		hey -z 300s -c "$CONC" -q "$QPS" -t 5 -host "$host" "http://127.0.0.1:$P1/" >"$log.hey" 2>&1 &
		h1=$!
		hey -z 300s -c 4 -q 1 -t 10 -host "$host" "http://127.0.0.1:$P1/cgi-bin/slow" \
			>"$log.slow" 2>&1 &
		h2=$!
	else
		: >"$log.hey"
		: >"$log.slow"
	fi
	"$PROBE" 127.0.0.1 "$P1" "$host" / "$PROBE_MS" 300000 >"$log.probe" 2>/dev/null &
	h3=$!
	PIDS="$h1 $h2 $h3"
	sleep "$PRE"
	t0=$(now_ms)
	"$@" >"$log.out" 2>&1
	rc=$?
	t1=$(now_ms)
	# Wait until the probe has seen the expected version (compose: the new
	# container may still be starting when `up -d` returns).
	i=0
	[ "$expect" = - ] && i=200 # nothing new to wait for (candidate: live stays)
	while [ $i -lt 200 ]; do
		awk -v t0="$t0" -v w="$expect" '$1 >= t0 && $2 == 200 && $3 == w { f = 1 } END { exit !f }' \
			"$log.probe" && break
		sleep 0.1
		i=$((i + 1))
	done
	sleep "$POST"
	[ -n "$h1" ] && kill -INT "$h1" "$h2" 2>/dev/null
	kill -TERM "$h3" 2>/dev/null
	wait $h1 $h2 "$h3" 2>/dev/null
	PIDS=
	# shellcheck disable=SC2046 # numbers, split on purpose
	set -- $(hey_counts "$log.hey") $(hey_counts "$log.slow")
	req=$1 fl=$2 sreq=$3 sfl=$4
	rps=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$log.hey")
	# Probe: first response of the expected version after t0; failed probes
	# (status not 2xx) and the span from the first failure's start to the
	# last failure's end.
	# shellcheck disable=SC2046 # numbers, split on purpose
	set -- $(awk -v t0="$t0" -v w="$expect" '
		w != "-" && $1 >= t0 && $2 == 200 && $3 == w && first == "" { first = $1 - t0 }
		$2 < 200 || $2 > 299 {
			n++; if (fs == "") fs = $1; le = $1 + $4
		}
		END {
			printf "%s %d %d\n", first == "" ? "-" : first, n, n ? le - fs : 0
		}' "$log.probe")
	echo "$name $((t1 - t0)) $rc $req $fl $sreq $sfl $1 $2 $3 ${rps:-0}" >>"$W/results"
	printf '  %-17s rc=%d cmd %5d ms  failed %d/%d (%s req/s)  slow failed %d/%d  new after %s ms  probe failures %d (outage %d ms)\n' \
		"$name" "$rc" $((t1 - t0)) "$fl" "$req" "${rps:-?}" "$sfl" "$sreq" "$1" "$2" "$3"
	[ "$rc" -eq 0 ] || { say "$name: command failed (exit $rc):"; sed 's/^/    /' "$log.out"; return 1; }
	return 0
}

# ---- setup ----
say "switching without downtime vs recreating (issue 4)"
say "binary: $BG ($(meson introspect "$BUILD" --buildoptions 2>/dev/null |
	sed -n 's/.*"name": "buildtype", "value": "\([a-z]*\)".*/\1/p' | head -n 1) build)"
say "run id $RUN; nginx on 127.0.0.1:$P1; compose service published on 127.0.0.1:$P2"
say "load: hey $CONC workers x $QPS req/s on / (target $((CONC * QPS)) req/s) + 4 x 1 req/s on /cgi-bin/slow (1 s); probe every $PROBE_MS ms"
[ -n "$VS" ] && say "paired with $VS (phases bg-*-vs), order alternating per repetition"
[ "$DAEMON" = 1 ] && say "each binary's watch daemon runs: apply and rollback are handed to it"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "repetitions: $REPS; medians below; host: $(nproc) cores, load average $LOAD0"

(cd "$CFG" && nginx -p nginx/ -c nginx.conf) || fail "nginx did not start on 127.0.0.1:$P1"

site_conf v1 0
tok=$(token)
[ -n "$tok" ] || fail "no plan token for the first deploy (see $W/log/plan.err)"
"$BG" -c "$CFG" apply "$tok" >"$W/log/first-deploy.out" 2>&1 ||
	{ cat "$W/log/first-deploy.out"; fail "first deploy failed"; }
wait_for "$SITE.localhost" v1 10 || fail "bluegreen site does not answer v1 through nginx"

if [ "$COMPOSE" = 1 ]; then
	compose_file v1
	compose up -d >"$W/log/compose-first.out" 2>&1 ||
		{ cat "$W/log/compose-first.out"; fail "docker-compose up failed"; }
	wait_for "compose.$SITE.localhost" v1 20 || fail "compose service does not answer v1 through nginx"
fi

# daemon_start BINARY SUFFIX / daemon_settled / daemon_stop (BENCH_SWITCH_DAEMON=1)
daemon_start() {
	DLOG=$W/log/daemon$2.out
	"$1" -c "$CFG" watch >>"$DLOG" 2>&1 &
	DPID=$!
	i=0
	while [ $i -lt 200 ] && ! [ -S "$CFG/state/control.sock" ]; do
		sleep 0.05
		i=$((i + 1))
	done
	daemon_settled
}
daemon_settled() { # until the daemon printed a plan after its last apply (or 10 s)
	i=0
	while [ $i -lt 200 ]; do
		awk '/^=== plan / { p = NR; next } /^=== / { a = NR }
			END { exit !(p && p > a) }' "$DLOG" 2>/dev/null && break
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.2
}
daemon_stop() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# bluegreen_rep BINARY SUFFIX REP: candidate, switch, rollback with BINARY,
# phases named bg-*SUFFIX. With a paired binary the candidate runs without
# load (not compared); each side's candidate has its own spec (env value).
bluegreen_rep() {
	bin=$1 sfx=$2
	if [ "$sfx" = -vs ] && [ "$VS_RELOAD" = 1 ]; then
		export BLUEGREEN_EDGE_FORCE_RELOAD=1
	else
		unset BLUEGREEN_EDGE_FORCE_RELOAD
	fi
	[ "$DAEMON" = 1 ] && daemon_start "$bin" "$sfx"
	site_conf v2 "$3$sfx"
	tok=$(token "$bin")
	[ -n "$tok" ] || { say "no candidate plan"; daemon_stop; return 1; }
	if [ -z "$VS" ]; then
		phase "bg-candidate$sfx" "$SITE.localhost" - "$bin" -c "$CFG" apply "$tok" || return 1
	else
		"$bin" -c "$CFG" apply "$tok" >"$W/log/candidate$sfx.out" 2>&1 ||
			{ say "candidate$sfx failed:"; sed 's/^/    /' "$W/log/candidate$sfx.out"; return 1; }
	fi
	[ "$DAEMON" = 1 ] && daemon_settled
	tok=$(token "$bin")
	[ -n "$tok" ] || { say "no switch plan"; daemon_stop; return 1; }
	st=0
	phase "bg-switch$sfx" "$SITE.localhost" v2 "$bin" -c "$CFG" apply "$tok" || st=1
	[ "$DAEMON" = 1 ] && daemon_settled
	phase "bg-rollback$sfx" "$SITE.localhost" v1 "$bin" -c "$CFG" rollback "$SITE" --yes || st=1
	daemon_stop
	return $st
}

: >"$W/results"
status=0
r=1
while [ $r -le "$REPS" ]; do
	say "repetition $r/$REPS"
	# bluegreen: candidate, then switch, then rollback (and the paired
	# binary's, before or after).
	if [ -n "$VS" ] && [ $((r % 2)) = 0 ]; then
		bluegreen_rep "$VS" -vs "$r" || status=1
	fi
	bluegreen_rep "$BG" "" "$r" || status=1
	if [ -n "$VS" ] && [ $((r % 2)) = 1 ]; then
		bluegreen_rep "$VS" -vs "$r" || status=1
	fi
	# docker-compose: update (recreate), then back.
	if [ "$COMPOSE" = 1 ]; then
		compose_file v2
		phase compose-update "compose.$SITE.localhost" v2 compose up -d || status=1
		compose_file v1
		phase compose-rollback "compose.$SITE.localhost" v1 compose up -d || status=1
	fi
	r=$((r + 1))
done

# ---- medians and ratios ----
median() { # median PHASE FIELD(2..11); "-" when there is no number
	awk -v p="$1" -v f="$2" '$1 == p && $f != "-" { print $f }' "$W/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum() { awk -v p="$1" -v f="$2" '$1 == p { s += $f } END { print s + 0 }' "$W/results"; }
spread() { # spread PHASE FIELD -> "min-max" ("-" when there is no number)
	awk -v p="$1" -v f="$2" '$1 == p && $f != "-" { v = $f + 0
			if (n++ == 0 || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
		END { if (n) printf "%d-%d\n", lo, hi; else print "-" }' "$W/results"
}
PHASES="bg-candidate bg-switch bg-rollback"
[ -n "$VS" ] && PHASES="bg-switch bg-rollback bg-switch-vs bg-rollback-vs"
[ "$COMPOSE" = 1 ] && PHASES="$PHASES compose-update compose-rollback"

echo
say "medians over $REPS repetitions (failed = non-2xx + socket errors; totals summed over all repetitions)"
printf '  %-17s %10s %11s %18s %8s %16s %12s %11s %14s %10s\n' phase "command ms" "(min-max)" \
	"failed (all reps)" "req/s" "slow failed" "new after ms" "(min-max)" "probe failures" \
	"outage ms"
for p in $PHASES; do
	printf '  %-17s %10s %11s %18s %8s %16s %12s %11s %14s %10s\n' "$p" "$(median "$p" 2)" \
		"$(spread "$p" 2)" "$(sum "$p" 5)/$(sum "$p" 4)" "$(median "$p" 11)" \
		"$(sum "$p" 7)/$(sum "$p" 6)" "$(median "$p" 8)" "$(spread "$p" 8)" "$(median "$p" 9)" \
		"$(median "$p" 10)"
done
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# pair_ratio PHASE FIELD: median over repetitions of PHASE-vs / PHASE (same repetition)
pair_ratio() {
	awk -v p="$1" -v f="$2" '$1 == p { a[++na] = $f } $1 == p "-vs" { b[++nb] = $f }
		END { for (i = 1; i <= na && i <= nb; i++) if (a[i] != "-" && b[i] != "-" && a[i] > 0)
				print b[i] / a[i] }' "$W/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
			printf "%.2f (%.2f-%.2f)\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2,
				v[1], v[NR] }'
}
if [ -n "$VS" ]; then
	echo
	say "paired: $VS (-vs) / this binary, per repetition, median (min-max)"
	printf '  %-26s %22s %22s\n' "" "switch" "rollback"
	printf '  %-26s %22s %22s\n' "command wall time" "$(pair_ratio bg-switch 2)" \
		"$(pair_ratio bg-rollback 2)"
	printf '  %-26s %22s %22s\n' "time to new version" "$(pair_ratio bg-switch 8)" \
		"$(pair_ratio bg-rollback 8)"
fi

ratio() { # ratio A B -> A/B, or a note when B is 0
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-") print "n/a"
		else if (b + 0 == 0 && a + 0 == 0) print "both 0"
		else if (b + 0 == 0) printf "%s vs 0\n", a
		else printf "%.2f\n", a / b }'
}
[ "$COMPOSE" = 1 ] && {
echo
say "compose / bluegreen, same run (above 1: compose takes longer or fails more)"
printf '  %-26s %14s %14s\n' "" "update/switch" "rollback"
printf '  %-26s %14s %14s\n' "command wall time" \
	"$(ratio "$(median compose-update 2)" "$(median bg-switch 2)")" \
	"$(ratio "$(median compose-rollback 2)" "$(median bg-rollback 2)")"
printf '  %-26s %14s %14s\n' "time to new version" \
	"$(ratio "$(median compose-update 8)" "$(median bg-switch 8)")" \
	"$(ratio "$(median compose-rollback 8)" "$(median bg-rollback 8)")"
printf '  %-26s %14s %14s\n' "failed requests (sum)" \
	"$(ratio "$(sum compose-update 5)" "$(sum bg-switch 5)")" \
	"$(ratio "$(sum compose-rollback 5)" "$(sum bg-rollback 5)")"
printf '  %-26s %14s %14s\n' "failed in-flight (sum)" \
	"$(ratio "$(sum compose-update 7)" "$(sum bg-switch 7)")" \
	"$(ratio "$(sum compose-rollback 7)" "$(sum bg-rollback 7)")"
echo "  (bluegreen's switch needs the candidate deployed first: bg-candidate above, with"
echo "   the live colour serving meanwhile; compose's up -d does both in one step.)"
}

# ---- the same figures as JSON (BENCH_JSON) ----
jn() { case ${1:-} in '' | -) echo null ;; *) echo "$1" ;; esac; } # a number or null
runs() { awk -v p="$1" '$1 == p { n++ } END { print n + 0 }' "$W/results"; }
sum2() { echo $(($(sum "$1" "$3") + $(sum "$2" "$3"))); }     # sum2 PHASE1 PHASE2 FIELD
phase_json() { # one phase: medians (ms, req/s, probe), sums (requests)
	[ "$(runs "$1")" -gt 0 ] || { echo null; return; }
	printf '{"runs": %s, "cmd_ms": %s, "requests": %s, "failed": %s, "req_per_s": %s, ' \
		"$(runs "$1")" "$(jn "$(median "$1" 2)")" "$(sum "$1" 4)" "$(sum "$1" 5)" \
		"$(jn "$(median "$1" 11)")"
	printf '"slow_requests": %s, "slow_failed": %s, "new_after_ms": %s, ' \
		"$(sum "$1" 6)" "$(sum "$1" 7)" "$(jn "$(median "$1" 8)")"
	printf '"probe_failures": %s, "outage_ms": %s}' \
		"$(jn "$(median "$1" 9)")" "$(jn "$(median "$1" 10)")"
}
side_json() { # side_json PHASE1 PHASE2 "EXTRA": ok/failed summed over both (main load)
	if [ "$(runs "$1")" -eq 0 ] && [ "$(runs "$2")" -eq 0 ]; then
		printf 'null'
		return
	fi
	printf '{"ok": %s, "failed": %s, "slow_ok": %s, "slow_failed": %s, "probe_failures": %s, %s}' \
		$(($(sum2 "$1" "$2" 4) - $(sum2 "$1" "$2" 5))) "$(sum2 "$1" "$2" 5)" \
		$(($(sum2 "$1" "$2" 6) - $(sum2 "$1" "$2" 7))) "$(sum2 "$1" "$2" 7)" \
		"$(sum2 "$1" "$2" 9)" "$3"
}
write_json() {
	{
		printf '{\n"switch": {\n  "reps": %s, "conc": %s, "qps_per_worker": %s, "run_id": "%s",\n' \
			"$REPS" "$CONC" "$QPS" "$RUN"
		printf '  "load_average_start": "%s", "load_average_end": "%s",\n' "$LOAD0" \
			"$(cut -d' ' -f1-3 /proc/loadavg)"
		printf '  "bluegreen": %s,\n' "$(side_json bg-switch bg-rollback \
			"$(printf '"switch_ms": %s, "rollback_ms": %s, "candidate_ms": %s, ' \
				"$(jn "$(median bg-switch 2)")" "$(jn "$(median bg-rollback 2)")" \
				"$(jn "$(median bg-candidate 2)")"
			printf '"switch_new_after_ms": %s, "rollback_new_after_ms": %s, ' \
				"$(jn "$(median bg-switch 8)")" "$(jn "$(median bg-rollback 8)")"
			printf '"outage_ms": %s, "rollback_outage_ms": %s' \
				"$(jn "$(median bg-switch 10)")" "$(jn "$(median bg-rollback 10)")")")"
		if [ -n "$VS" ]; then
			printf '  "vs": {"binary": "%s", "bluegreen": %s},\n' "$VS" \
				"$(side_json bg-switch-vs bg-rollback-vs \
				"$(printf '"switch_ms": %s, "rollback_ms": %s, ' \
					"$(jn "$(median bg-switch-vs 2)")" "$(jn "$(median bg-rollback-vs 2)")"
				printf '"switch_new_after_ms": %s, "rollback_new_after_ms": %s' \
					"$(jn "$(median bg-switch-vs 8)")" \
					"$(jn "$(median bg-rollback-vs 8)")")")"
		fi
		printf '  "compose": %s,\n' "$(side_json compose-update compose-rollback \
			"$(printf '"update_ms": %s, "outage_ms": %s, "rollback_ms": %s, ' \
				"$(jn "$(median compose-update 2)")" "$(jn "$(median compose-update 10)")" \
				"$(jn "$(median compose-rollback 2)")"
			printf '"rollback_outage_ms": %s, "update_new_after_ms": %s, ' \
				"$(jn "$(median compose-rollback 10)")" "$(jn "$(median compose-update 8)")"
			printf '"rollback_new_after_ms": %s' "$(jn "$(median compose-rollback 8)")")")"
		printf '  "phases": {'
		sep=
		for p in bg-candidate bg-switch bg-rollback compose-update compose-rollback \
			${VS:+bg-switch-vs bg-rollback-vs}; do
			printf '%s\n    "%s": %s' "$sep" "$p" "$(phase_json "$p")"
			sep=,
		done
		printf '}\n}\n}\n'
	} >"$BENCH_JSON.tmp" 2>/dev/null
	if ! mv "$BENCH_JSON.tmp" "$BENCH_JSON" 2>/dev/null; then
		say "cannot write $BENCH_JSON" >&2
		rm -f "$BENCH_JSON.tmp"
	fi
}
[ -n "${BENCH_JSON:-}" ] && write_json
exit $status
