#!/bin/sh
# bench-swarm.sh: switch and rollback on a Docker Swarm next to the same on
# one engine, same run, pair by pair (issue 17).
#
# Two sites behind one private nginx (127.0.0.1, a free port), each with its
# own configuration directory and state: one with docker.mode: engine, one
# with docker.mode: swarm (a single-node swarm of this dockerd: `docker
# swarm init` when the engine is in none, `docker swarm leave --force` at
# exit, so the engine is left as it was). Same image (bluegreen-test/web:vN
# with a HEALTHCHECK, built here as t-swarm builds it: the health gate of a
# task is its container's health), same strategy, same nginx, same load.
#
# Each repetition runs both sides, the order alternating (engine first in
# odd repetitions, swarm first in even ones), so the host's drift and noise
# hit both: v2 as candidate (apply, no load: its time is not compared),
# then the switch (apply TOKEN) and `rollback SITE --yes`, each under load:
# hey, -c $BENCH_SWARM_CONC workers x -q $BENCH_SWARM_QPS requests/s on /,
# from $PRE s before the command to $POST s after it returned. Figures per
# phase: the command's wall time, the time from its start until curl sees
# the expected version through nginx, failed requests (non-2xx + socket
# errors, as hey reports them) out of the total. Medians over
# $BENCH_SWARM_REPS repetitions (default 3), failed requests summed, then
# per-pair ratios swarm/engine.
#
# Every object is named and labelled with a run id and removed at exit: the
# sites' containers, services, networks, the nginx, the work directory
# (kept with BENCH_KEEP=1). With BENCH_JSON=FILE the figures also go to FILE
# as JSON ({"swarm": {...}}), nothing else printed to it.
#
# Environment: BUILD (default build-bench), BENCH_SWARM_REPS (3),
# BENCH_SWARM_CONC (8), BENCH_SWARM_QPS (25 per worker),
# BENCH_SWARM_REPLICAS (1), BENCH_KEEP, BENCH_JSON.
# Exit 0 when every phase ran (whatever the figures), 1 when something
# needed is missing or a command failed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BG=$BUILD/bluegreen
REPS=${BENCH_SWARM_REPS:-3}
CONC=${BENCH_SWARM_CONC:-8}
QPS=${BENCH_SWARM_QPS:-25}
REPLICAS=${BENCH_SWARM_REPLICAS:-1}
PRE=2
POST=2

say() { printf 'bench-swarm: %s\n' "$*"; }
fail() { say "cannot run: $*"; exit 1; }

for t in docker nginx hey curl; do
	command -v "$t" >/dev/null 2>&1 || fail "'$t' not found (./run.sh bench installs it)"
done
[ -x "$BG" ] || fail "$BG not built (ninja -C $BUILD)"
docker info >/dev/null 2>&1 || fail "no docker daemon (./run.sh bench starts one)"
"$ROOT/test/images/build.sh" >/dev/null || fail "test images could not be built (test/images/build.sh)"

RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
W=$(mktemp -d "${TMPDIR:-/tmp}/bg-bench-swarm.XXXXXX")
NG=$W/nginx
PIDS=
INITED=0

site_of() { echo "bgbsm-$1-$RUN"; } # site_of engine|swarm

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -f "$NG/nginx.pid" ] && nginx -p "$NG/" -c nginx.conf -s quit 2>/dev/null
	for m in engine swarm; do
		s=$(site_of "$m")
		ids=$(docker service ls -q --filter "label=io.bluegreen.site=$s" 2>/dev/null)
		# shellcheck disable=SC2086 # one id per word
		[ -n "$ids" ] && docker service rm $ids >/dev/null 2>&1
		ids=$(docker ps -aq --filter "label=io.bluegreen.site=$s" 2>/dev/null)
		# shellcheck disable=SC2086 # one id per word
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	done
	sleep 3 # a service's tasks go first, then its overlay networks can
	for m in engine swarm; do
		s=$(site_of "$m")
		for n in "$s-net" "$s-edge"; do docker network rm "$n" >/dev/null 2>&1; done
	done
	[ "$INITED" = 1 ] && docker swarm leave --force >/dev/null 2>&1
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_used() {
	awk -v h=":$(printf '%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 10000 + 20000 ))
		port_used "$p" || { echo "$p"; return; }
	done
}
P1=$(free_port)
now_ms() { date +%s%3N; }

# ---- the swarm, the images ----
state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
if [ "$state" = inactive ]; then
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1 || fail "docker swarm init failed"
	INITED=1
elif [ "$state" != active ]; then
	fail "the engine's swarm state is '$state'"
fi
for v in 1 2; do
	d=$W/img$v
	mkdir -p "$d"
	printf 'FROM bluegreen-test/web:v%s\nHEALTHCHECK --interval=1s --timeout=5s --retries=10 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]\n' \
		"$v" >"$d/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "bluegreen-test/swarm-web:v$v" "$d" >/dev/null ||
		fail "docker build bluegreen-test/swarm-web:v$v"
done

# ---- the private nginx and the two configurations ----
mkdir -p "$NG/conf.d" "$NG/tmp" "$W/log"
cat >"$NG/nginx.conf" <<EOF
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
for m in engine swarm; do
	s=$(site_of "$m")
	c=$W/$m
	mkdir -p "$c/sites"
	cat >"$c/global.conf" <<EOF
# bench-swarm: the $m side
install_mode: production
profile: infra-only
state_dir: state
docker: {mode: $m}
edge:
  kind: nginx
  network: $s-edge
  nginx:
    conf_dir: $NG/conf.d
    listen: "127.0.0.1:$P1"
    test: [nginx, -p, $NG/, -c, nginx.conf, -t, -q]
    reload: [nginx, -p, $NG/, -c, nginx.conf, -s, reload]
EOF
done
site_conf() { # site_conf MODE IMAGE_TAG REP
	s=$(site_of "$1")
	cat >"$W/$1/sites/$s.conf" <<EOF
site: $s
domains: [$s.localhost]
image: bluegreen-test/swarm-web:$2
port: 8080
replicas: $REPLICAS
env: {BENCH_REP: "$3"}
health:
  path: /healthz
  interval: 200ms
  timeout: 1s
  retries: 50
strategy:
  promote: manual
  keep_previous: true
  drain: 1s
stop_timeout: 2s
EOF
}
token() { # token MODE
	"$BG" -c "$W/$1" --json plan 2>>"$W/log/plan.err" |
		sed -n 's/^ *"token": *"\([0-9a-f]*\)".*/\1/p' | head -n 1
}
wait_for() { # wait_for HOST WORD SECONDS
	i=0
	while [ $i -lt $(($3 * 50)) ]; do
		[ "$(curl -s -m 1 -H "Host: $1" "http://127.0.0.1:$P1/" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.02
		i=$((i + 1))
	done
	return 1
}
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

# phase NAME HOST EXPECT COMMAND...: one line in $W/results:
# NAME cmd_ms rc req fail new_after_ms
phase() {
	name=$1 host=$2 expect=$3
	shift 3
	log=$W/log/$name.$r
	hey -z 300s -c "$CONC" -q "$QPS" -t 5 -host "$host" "http://127.0.0.1:$P1/" >"$log.hey" 2>&1 &
	h1=$!
	PIDS=$h1
	sleep "$PRE"
	t0=$(now_ms)
	"$@" >"$log.out" 2>&1
	rc=$?
	t1=$(now_ms)
	wait_for "$host" "$expect" 20 && t2=$(now_ms) || t2=
	sleep "$POST"
	kill -INT "$h1" 2>/dev/null
	wait "$h1" 2>/dev/null
	PIDS=
	# shellcheck disable=SC2046 # numbers, split on purpose
	set -- $(hey_counts "$log.hey")
	new=-
	[ -n "$t2" ] && new=$((t2 - t0))
	echo "$name $((t1 - t0)) $rc $1 $2 $new" >>"$W/results"
	printf '  %-16s rc=%d cmd %6d ms  new after %6s ms  failed %d/%d\n' "$name" "$rc" \
		$((t1 - t0)) "$new" "$2" "$1"
	[ "$rc" -eq 0 ] || { say "$name: command failed (exit $rc):"; sed 's/^/    /' "$log.out"; return 1; }
}

# side MODE REP: candidate (no load), switch and rollback under load.
side() {
	m=$1
	s=$(site_of "$m")
	site_conf "$m" v2 "$2"
	tok=$(token "$m")
	[ -n "$tok" ] || { say "$m: no candidate plan (see $W/log/plan.err)"; return 1; }
	"$BG" -c "$W/$m" apply "$tok" >"$W/log/candidate-$m.$2.out" 2>&1 ||
		{ say "$m: candidate failed:"; sed 's/^/    /' "$W/log/candidate-$m.$2.out"; return 1; }
	tok=$(token "$m")
	[ -n "$tok" ] || { say "$m: no switch plan"; return 1; }
	st=0
	phase "$m-switch" "$s.localhost" v2 "$BG" -c "$W/$m" apply "$tok" || st=1
	phase "$m-rollback" "$s.localhost" v1 "$BG" -c "$W/$m" rollback "$s" --yes || st=1
	return $st
}

say "switch and rollback on a single-node swarm next to one engine, same run (issue 17)"
say "binary: $BG; run id $RUN; nginx on 127.0.0.1:$P1; replicas $REPLICAS"
say "load: hey $CONC workers x $QPS req/s on / (target $((CONC * QPS)) req/s)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "repetitions: $REPS, order alternating; host: $(nproc) cores, load average $LOAD0"
(cd "$NG" && nginx -p "$NG/" -c nginx.conf) || fail "nginx did not start on 127.0.0.1:$P1"
for m in engine swarm; do
	site_conf "$m" v1 0
	tok=$(token "$m")
	[ -n "$tok" ] || fail "$m: no plan token for the first deploy (see $W/log/plan.err)"
	"$BG" -c "$W/$m" apply "$tok" >"$W/log/first-$m.out" 2>&1 ||
		{ cat "$W/log/first-$m.out"; fail "$m: first deploy failed"; }
	wait_for "$(site_of "$m").localhost" v1 30 || fail "$m: the site does not answer v1 through nginx"
done

: >"$W/results"
status=0
r=1
while [ "$r" -le "$REPS" ]; do
	say "repetition $r/$REPS"
	if [ $((r % 2)) = 1 ]; then order="engine swarm"; else order="swarm engine"; fi
	for m in $order; do side "$m" "$r" || status=1; done
	r=$((r + 1))
done

# ---- medians and ratios ----
median() { # median PHASE FIELD
	awk -v p="$1" -v f="$2" '$1 == p && $f != "-" { print $f }' "$W/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum() { awk -v p="$1" -v f="$2" '$1 == p { s += $f } END { print s + 0 }' "$W/results"; }
pair_ratio() { # pair_ratio PHASE FIELD: median of swarm-PHASE / engine-PHASE, same repetition
	awk -v p="$1" -v f="$2" '$1 == "engine-" p { a[++na] = $f } $1 == "swarm-" p { b[++nb] = $f }
		END { for (i = 1; i <= na && i <= nb; i++) if (a[i] != "-" && b[i] != "-" && a[i] > 0)
				print b[i] / a[i] }' "$W/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
			printf "%.2f (%.2f-%.2f)\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2,
				v[1], v[NR] }'
}
echo
say "medians over $REPS repetitions (failed = non-2xx + socket errors, summed over all)"
printf '  %-16s %11s %14s %20s\n' phase "command ms" "new after ms" "failed (all reps)"
for p in engine-switch swarm-switch engine-rollback swarm-rollback; do
	printf '  %-16s %11s %14s %20s\n' "$p" "$(median "$p" 2)" "$(median "$p" 6)" \
		"$(sum "$p" 5)/$(sum "$p" 4)"
done
echo
say "swarm / engine, per repetition, median (min-max)"
printf '  %-22s %20s %20s\n' "" switch rollback
printf '  %-22s %20s %20s\n' "command wall time" "$(pair_ratio switch 2)" "$(pair_ratio rollback 2)"
printf '  %-22s %20s %20s\n' "time to new version" "$(pair_ratio switch 6)" "$(pair_ratio rollback 6)"
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

jn() { case ${1:-} in '' | -) echo null ;; *) echo "$1" ;; esac; }
side_json() { # side_json MODE
	printf '{"switch_ms": %s, "rollback_ms": %s, "switch_new_after_ms": %s, ' \
		"$(jn "$(median "$1-switch" 2)")" "$(jn "$(median "$1-rollback" 2)")" \
		"$(jn "$(median "$1-switch" 6)")"
	printf '"rollback_new_after_ms": %s, "requests": %s, "failed": %s}' \
		"$(jn "$(median "$1-rollback" 6)")" \
		$(($(sum "$1-switch" 4) + $(sum "$1-rollback" 4))) \
		$(($(sum "$1-switch" 5) + $(sum "$1-rollback" 5)))
}
if [ -n "${BENCH_JSON:-}" ]; then
	printf '{"swarm": {"reps": %s, "conc": %s, "qps_per_worker": %s, "replicas": %s, "run_id": "%s",\n  "engine": %s,\n  "swarm": %s}}\n' \
		"$REPS" "$CONC" "$QPS" "$REPLICAS" "$RUN" "$(side_json engine)" "$(side_json swarm)" \
		>"$BENCH_JSON.tmp" && mv "$BENCH_JSON.tmp" "$BENCH_JSON" || say "cannot write $BENCH_JSON"
fi
exit $status
