#!/bin/sh
# t-runsh.sh: run.sh's own steps, with meson, ninja, dpkg-query, id, docker
# and dockerd replaced by stubs on a PATH that has no sudo and no apt-get
# (so nothing gets installed, built or started for real, in seconds):
#   - the first setup says so ("building build/ (first time ...)");
#   - a tree moved after its first build is set up afresh (meson bakes
#     absolute paths), saying so in one line, keeping build/dist/; a tree
#     that did not move is not set up again;
#   - packages missing, not root, no sudo: refused without "installing:";
#   - dockerd that exits at once: reported at once, with the end of its
#     log and what to do.
# Environment: BG_SRCDIR (meson's test_env).
set -u
src=${BG_SRCDIR:?BG_SRCDIR is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-runsh.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
bad() { echo "not ok: $*"; failed=1; }
ok() { echo "ok: $*"; }

# Real tools, by symlink; then the stubs.
mkdir "$tmp/bin"
for t in dirname grep mktemp cat rm sed find tail sleep env nohup mkdir touch ls chmod; do
	p=$(command -v "$t") || { echo "FAIL: $t not found"; exit 1; }
	ln -s "$p" "$tmp/bin/$t"
done
stub() { printf '#!/bin/sh\n%s\n' "$2" >"$tmp/bin/$1" && chmod +x "$tmp/bin/$1"; }
stub id 'echo "${STUB_UID:-0}"'
stub dpkg-query 'for a; do p=$a; done
case " ${STUB_MISSING:-} " in *" $p "*) exit 1 ;; esac
printf "install ok installed"'
# meson setup DIR: what meson leaves (meson-info.json naming the real
# source path, build.ninja), and one line in the call log.
stub meson '[ "$1" = setup ] || exit 1
echo "setup $2" >>"$STUB_LOG"
mkdir -p "$2/meson-info"
printf "{\"meson_version\": {}, \"directories\": {\"source\": \"%s\", \"build\": \"%s/%s\"}}\n" "$(pwd -P)" "$(pwd -P)" "$2" >"$2/meson-info/meson-info.json"
touch "$2/build.ninja" "$2/stale.o"'
stub ninja 'printf "#!/bin/sh\necho bluegreen-stub\n" >"$2/bluegreen" && chmod +x "$2/bluegreen"'
stub docker 'exit 1'
stub dockerd 'echo "failed to start daemon: stub reason"; exit 1'
export STUB_LOG="$tmp/calls"
: >"$STUB_LOG"

mkdir "$tmp/a"
cp "$src/run.sh" "$tmp/a/"
run() { # run DIR ARGS...: ./run.sh in DIR, stdout+stderr to $tmp/out
	d=$1
	shift
	(cd "$d" && PATH=$tmp/bin TMPDIR=$tmp ./run.sh "$@") >"$tmp/out" 2>&1
}
setups() { grep -c '^setup build$' "$STUB_LOG"; }

# First build.
run "$tmp/a" --version || bad "./run.sh --version exited $?: $(cat "$tmp/out")"
grep -q '^run.sh: building build/ (first time: about a minute)$' "$tmp/out" &&
	ok "the first setup says so" || bad "no 'building build/' line: $(cat "$tmp/out")"
[ "$(setups)" -eq 1 ] || bad "meson setup ran $(setups) times, want 1"

# Not moved: no new setup, no message.
run "$tmp/a" --version || bad "./run.sh --version (again) exited $?"
[ "$(setups)" -eq 1 ] && ! grep -q 'run.sh:' "$tmp/out" &&
	ok "an unmoved tree is not set up again" || bad "second run: $(setups) setups, said: $(cat "$tmp/out")"

# Moved.
mkdir "$tmp/a/build/dist"
touch "$tmp/a/build/dist/bluegreen-0.zip"
mv "$tmp/a" "$tmp/b"
run "$tmp/b" --version || bad "./run.sh --version after the move exited $?: $(cat "$tmp/out")"
if grep -q "^run.sh: build/ was set up for $tmp/a, not $tmp/b (the tree moved): setting it up afresh\$" "$tmp/out"; then
	ok "a moved tree: said in one line"
else
	bad "a moved tree: no 'setting it up afresh' line: $(cat "$tmp/out")"
fi
[ "$(setups)" -eq 2 ] && ok "a moved tree is set up afresh" || bad "after the move: $(setups) setups, want 2"
grep -q "\"source\": \"$tmp/b\"" "$tmp/b/build/meson-info/meson-info.json" || bad "build/ not set up for $tmp/b"
[ -f "$tmp/b/build/dist/bluegreen-0.zip" ] && ok "build/dist/ kept" || bad "build/dist/ was removed"
grep -q bluegreen-stub "$tmp/out" || bad "the binary did not run after the new setup"

# Missing packages, not root, no sudo: refused before "installing:".
STUB_UID=1000 STUB_MISSING=libyaml-dev run "$tmp/b" --version
rc=$?
if [ "$rc" -ne 0 ] && grep -q 'not root' "$tmp/out" && ! grep -q 'installing' "$tmp/out"; then
	ok "not root, no sudo: refused, nothing said to be installing"
else
	bad "not root, no sudo: exit $rc: $(cat "$tmp/out")"
fi

# dockerd exits at once: reported without waiting 30 s, its log shown.
start=$(date +%s)
run "$tmp/b" demo
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" -ne 0 ] && grep -q '^run.sh: dockerd exited' "$tmp/out" &&
	grep -q '^    failed to start daemon: stub reason$' "$tmp/out" &&
	grep -q 'systemctl start docker' "$tmp/out" && grep -q '/var/run/docker.sock' "$tmp/out" &&
	[ "$took" -lt 20 ]; then
	ok "dockerd that exits: reported in ${took} s with its log and what to do"
else
	bad "dockerd that exits: exit $rc after ${took} s: $(cat "$tmp/out")"
fi

[ "$failed" -eq 0 ] && echo PASS || echo FAIL
exit "$failed"
