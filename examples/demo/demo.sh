#!/bin/sh
# demo.sh: the whole bluegreen story on this example, in the open. Called by
# `./run.sh demo` (which installs what is missing, starts dockerd if needed
# and builds). It works in .bg-demo/ (a copy of examples/demo), runs a
# private nginx on 127.0.0.1:18080, and shows every plan before approving it
# by its token:
#
#   1. validate      2. first deploy (v1 goes live)
#   3. new version   (v2 becomes the candidate, on the preview host only)
#   4. switch        (v2 live; v1 kept running)
#   5. rollback      (v1 live again, in milliseconds; v2 marked rejected)
#   6. status, history, the convergence log
#
# `./run.sh demo --clean` stops the demo's nginx and removes its containers
# and networks (only those labelled for the demo's site).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BG="${BG_BINARY:-$ROOT/build/bluegreen}"
WORK="$ROOT/.bg-demo"
SITE=hello
PORT=18080

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$(printf '\033[1m') R=$(printf '\033[0m'); else B= R=; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$R"; }
run() { printf '$ %s\n' "$*"; "$@"; }
bg() { printf '$ bluegreen %s\n' "$*"; "$BG" -c "$WORK" "$@"; }
get() { # get HOST: what nginx answers for that host
	curl -sS --max-time 5 -H "Host: $1" "http://127.0.0.1:$PORT/" || true
}
show() { printf '   http://%s/ -> %s\n' "$1" "$(get "$1")"; }
# Plan, print it, and apply exactly that plan by its token.
plan_and_apply() {
	out=$("$BG" -c "$WORK" plan) || [ $? -eq 2 ]
	printf '$ bluegreen plan\n%s\n' "$out"
	token=$(printf '%s\n' "$out" | sed -n 's/^  bluegreen apply \([0-9a-f]*\).*/\1/p')
	[ -n "$token" ] || { echo "demo: the plan has nothing to apply" >&2; exit 1; }
	bg apply "$token"
}

clean() {
	if [ -f "$WORK/nginx/nginx.pid" ]; then
		nginx -p "$WORK/nginx/" -c nginx.conf -s quit 2>/dev/null || true
	fi
	ids=$(docker ps -aq --filter "label=io.bluegreen.site=$SITE")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null
	for n in "$SITE-net" bluegreen-demo-edge; do
		docker network inspect "$n" >/dev/null 2>&1 && docker network rm "$n" >/dev/null
	done
	rm -rf "$WORK"
}

if [ "${1:-}" = "--clean" ]; then
	clean
	echo "demo: cleaned up"
	exit 0
fi

say "0. Setting up: test images (no registry: docker import), a private nginx on 127.0.0.1:$PORT"
"$ROOT/test/images/build.sh"
clean
cp -a "$ROOT/examples/demo" "$WORK"
rm -f "$WORK/demo.sh"
# bluegreen acts only on directories nobody else can write (a checkout made
# under umask 002 is group-writable): the copy is the demo's own.
chmod -R go-w "$WORK"
mkdir -p "$WORK/nginx/tmp"
nginx -p "$WORK/nginx/" -c nginx.conf
echo "config: $WORK (global.conf, sites/$SITE.conf); state: $WORK/state"

say "1. Check the configuration (every error would name file:line:col)"
bg validate

say "2. First deploy: nothing is live, so v1 goes live directly after its health gate"
plan_and_apply
sleep 0.2
show "$SITE.localhost"

say "3. A new version: sites/$SITE.conf now says image bluegreen-test/web:v2"
run sed -i 's#bluegreen-test/web:v1#bluegreen-test/web:v2#' "$WORK/sites/$SITE.conf"
echo "The live colour is never touched: v2 goes to the idle colour, on the preview host."
plan_and_apply
show "$SITE.localhost"
show "preview.$SITE.localhost"

say "4. The switch: a routing change only (no container restarts)"
plan_and_apply
show "$SITE.localhost"

say "5. Rollback: the previous colour still runs, so it is a switch back"
bg rollback "$SITE" --yes
show "$SITE.localhost"
echo "The next plan does not propose v2 again (it was rolled back):"
bg plan || true

say "6. What happened"
bg status
bg history --limit 14
echo
echo "The convergence log (bluegreen log -f follows it):"
bg log -n 8

say "Done. Explore with: $BG -c $WORK status | plan | history"
echo "Clean up with: ./run.sh demo --clean"
