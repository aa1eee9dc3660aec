#!/bin/sh
# package.sh [OUTDIR]: the release ZIP, OUTDIR/bluegreen-X.Y.Z.zip (default
# build/dist), and its OUTDIR/bluegreen-X.Y.Z.zip.sha256. `./run.sh package`
# calls it after installing git, zip and scdoc.
#
# Content: every file `git ls-files` lists (as in the working tree: build
# directories and other untracked files never get in), under one top folder
# bluegreen-X.Y.Z/, plus what a user should not need tools for:
#   docs/man/bluegreen.1   the man page, built by scdoc
#   .commit                the commit, for `bluegreen --version`
# Reproducible: the same tree gives the same bytes. Every file's time is the
# commit's (SOURCE_DATE_EPOCH), entries are sorted (C locale), modes are 0644
# or 0755 (git's executable bit), no uid/gid or extra time fields (zip -X),
# no directory entries, times stored in UTC.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
out=${1:-build/dist}

die() { echo "package: $*" >&2; exit 1; }
for t in git zip scdoc; do
	command -v "$t" >/dev/null 2>&1 || die "$t is not installed (./run.sh package installs it)"
done
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	die "$ROOT is not a git checkout: a release is made from one"
[ "$(git rev-parse --show-toplevel)" = "$ROOT" ] || die "$ROOT is not the top of its git checkout"

version=$(sed -n "s/^  version: '\([0-9][0-9.]*\)',\$/\1/p" meson.build)
[ -n "$version" ] || die "meson.build: no \"  version: 'X.Y.Z',\" line in project()"
name=bluegreen-$version
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH
commit=$(git describe --always --dirty --abbrev=12)
case $commit in *-dirty) echo "package: warning: uncommitted changes are in the ZIP ($commit)" >&2 ;; esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/bg-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
top=$stage/$name
mkdir "$top"

# Each tracked file (one deleted in the working tree is skipped), with
# git's mode: 0755 for an executable, 0644 otherwise; symlinks as they are.
git ls-files -s >"$stage/index"
: >"$stage/files"
: >"$stage/exec"
while read -r mode _obj _stage path; do
	[ -e "$path" ] || [ -L "$path" ] || continue
	printf '%s\n' "$path" >>"$stage/files"
	[ "$mode" = 100755 ] && printf '%s\n' "$path" >>"$stage/exec"
done <"$stage/index"
tar -cf - --no-recursion -T "$stage/files" | tar -xf - -C "$top"
find "$top" -type f -exec chmod 0644 {} +
(cd "$top" && tr '\n' '\0' <"$stage/exec" | xargs -0 -r chmod 0755)

mkdir -p "$top/docs/man"
scdoc <docs/man/bluegreen.1.scd >"$top/docs/man/bluegreen.1"
chmod 0644 "$top/docs/man/bluegreen.1"
printf '%s\n' "$commit" >"$top/.commit"
chmod 0644 "$top/.commit"

# Directories 0755, every time the commit's, entries sorted.
find "$top" -type d -exec chmod 0755 {} +
find "$top" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
zip=$out/$name.zip
rm -f "$zip" "$zip.sha256"
(cd "$stage" && find "$name" ! -type d | LC_ALL=C sort |
	TZ=UTC zip -q -X -D -y -@ "$zip")
(cd "$out" && sha256sum "$name.zip" >"$name.zip.sha256")
echo "package: $zip ($(wc -c <"$zip") bytes, $(find "$top" ! -type d | wc -l) files, $commit)"
cat "$zip.sha256"
