#!/bin/sh
# t-package.sh: the release ZIP (ci/package.sh, `./run.sh package`).
#   - reproducible: built twice, from two fresh clones of this commit (other
#     paths, other file times), with another time zone and umask the second
#     time: the same sha256;
#   - the .sha256 file checks;
#   - its listing: one top folder bluegreen-X.Y.Z/ (X.Y.Z is meson.build's
#     version), the files a user needs (run.sh, README, CHANGELOG, LICENSE,
#     meson.build, the sources, schema/, profiles/, examples/, docs/, the
#     built man page, the completions), every file git tracks, nothing else
#     (no build directory, no .git);
#   - fixed modes (0644, 0755 for run.sh) and every time the commit's.
# Without git or zip here: a skip (77), under CI=true a failure.
# Environment: BG_SRCDIR (meson's test_env).
set -u
src=${BG_SRCDIR:?BG_SRCDIR is not set}
export LC_ALL=C
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
bad() { echo "not ok: $*"; failed=1; }
skip() {
	case ${CI:-} in true | 1) echo "FAIL (CI=true, never skipped): $*"; exit 1 ;; esac
	echo "SKIP: $*"
	exit 77
}
for t in git zip unzip scdoc sha256sum; do
	command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (./run.sh test installs it)"
done
[ -e "$src/.git" ] || skip "$src is not a git checkout: a release is made from one"

git clone -q "$src" "$tmp/a" || { echo "FAIL: git clone"; exit 1; }
sleep 1 # the second clone's files get other times
git clone -q "$src" "$tmp/b" || { echo "FAIL: git clone"; exit 1; }
(cd "$tmp/a" && ci/package.sh "$tmp/out-a") || bad "ci/package.sh failed in clone a"
(cd "$tmp/b" && umask 0077 && TZ=Pacific/Kiritimati ci/package.sh "$tmp/out-b") ||
	bad "ci/package.sh failed in clone b"
version=$(sed -n "s/^  version: '\([0-9][0-9.]*\)',\$/\1/p" "$src/meson.build")
name=bluegreen-$version
zip=$tmp/out-a/$name.zip
[ -f "$zip" ] || { echo "FAIL: no $name.zip written"; exit 1; }
ha=$(sha256sum <"$zip" | cut -d' ' -f1)
hb=$(sha256sum <"$tmp/out-b/$name.zip" | cut -d' ' -f1)
if [ "$ha" = "$hb" ]; then
	echo "ok: reproducible, sha256 $ha"
else
	bad "two builds of the same commit differ: $ha and $hb"
	zipinfo "$zip" >"$tmp/za" 2>&1; zipinfo "$tmp/out-b/$name.zip" >"$tmp/zb" 2>&1
	diff "$tmp/za" "$tmp/zb" | head -n 20
fi
(cd "$tmp/out-a" && sha256sum -c --quiet "$name.zip.sha256") && echo "ok: $name.zip.sha256 checks" ||
	bad "$name.zip.sha256 does not check"

# The listing.
zipinfo -1 "$zip" >"$tmp/list" || bad "zipinfo failed"
tops=$(cut -d/ -f1 "$tmp/list" | sort -u)
[ "$tops" = "$name" ] && echo "ok: one top folder, $name/" || bad "top folders: $(echo $tops)"
sort -c "$tmp/list" 2>/dev/null && echo "ok: entries sorted" || bad "entries are not sorted"
for f in run.sh README.md CHANGELOG.md LICENSE meson.build meson_options.txt \
	controller/cli/main.c reconcilers/edge/edge.c schema/global.schema.json profiles/pro.conf \
	examples/demo/global.conf examples/gitops/config/observed/snapshot.json \
	examples/systemd/bluegreen.service docs/install.md docs/man/bluegreen.1.scd \
	docs/man/bluegreen.1 docs/completion/bluegreen.bash docs/completion/_bluegreen .commit; do
	grep -qx "$name/$f" "$tmp/list" || bad "$f is not in the ZIP"
done
# Exactly what git tracks, plus the two generated files.
(cd "$tmp/a" && git ls-files) | sed "s|^|$name/|" >"$tmp/want"
printf '%s\n' "$name/docs/man/bluegreen.1" "$name/.commit" >>"$tmp/want"
sort -u "$tmp/want" -o "$tmp/want"
if cmp -s "$tmp/want" "$tmp/list"; then
	echo "ok: the tracked files and the generated ones, nothing else ($(wc -l <"$tmp/list") files)"
else
	bad "the ZIP is not what git tracks (< missing, > extra):"
	diff "$tmp/want" "$tmp/list" | grep '^[<>]' | head -n 20
fi
grep -E "^$name/(build[^/]*|\.git)/" "$tmp/list" && bad "a build directory or .git is in the ZIP"

# Modes and times.
zipinfo "$zip" | awk -v n="$name/run.sh" '
	$NF == n && $1 != "-rwxr-xr-x" { print "run.sh mode " $1; bad = 1 }
	$1 ~ /^-/ && $1 != "-rw-r--r--" && $1 != "-rwxr-xr-x" { print "mode " $1 " of " $NF; bad = 1 }
	END { exit bad }' && echo "ok: modes 0644 and 0755" || bad "unexpected modes"
epoch=$(cd "$tmp/a" && git log -1 --format=%ct)
want_time=$(TZ=UTC date -d "@$epoch" '+%Y%m%d.%H%M')
times=$(zipinfo -T "$zip" | awk '$1 ~ /^[-l]/ { print $(NF-1) }' | sort -u)
# DOS times have 2-second steps: compare to the minute.
if [ "$(printf '%s\n' "$times" | cut -c1-13 | sort -u)" = "$want_time" ]; then
	echo "ok: every time is the commit's ($want_time UTC)"
else
	bad "times are not the commit's $want_time: $(echo $times | head -c 200)"
fi
[ "$failed" -eq 0 ] && echo PASS || echo FAIL
exit "$failed"
