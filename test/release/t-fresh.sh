#!/bin/sh
# t-fresh.sh: the release ZIP on a fresh machine (issue 8). A test that
# cannot be fooled by what is installed here: a minimal Debian 12 root
# filesystem (mmdebstrap --variant=minbase bookworm, from the host's Debian
# mirror), imported as a Docker image, and in a container from it
# (fresh-inside.sh): docs/install.md's steps from the ZIP as written
# (checksum, apt-get update and unzip, unzip, `./run.sh --version`, which
# installs what it needs with apt as on a new server, `validate`), the
# tree moved and `validate` again, `plan --observed` on the bundled
# configurations, `meson install`.
#
# The image is cached: its tag is a hash of its inputs (suite, variant,
# mirror, this recipe), so it is built once (~1 min) and reused. The
# container uses the host's network (--network host) to reach the same
# mirror as the host's apt. Under CI=true a missing tool is a failure,
# never a skip; elsewhere it is a skip (exit 77).
#
# Environment: BG_SRCDIR (the source tree; meson's test_env sets it),
# BG_FRESH_KEEP=1 keeps the container's output dir.
set -u
src=${BG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1

skip() {
	case ${CI:-} in
	true | 1) echo "FAIL (CI=true, never skipped): $*"; exit 1 ;;
	esac
	echo "SKIP: $*"
	exit 77
}
fail() { echo "FAIL: $*"; exit 1; }

for t in docker mmdebstrap git zip unzip scdoc sha256sum; do
	command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (./run.sh test installs it)"
done
docker info >/dev/null 2>&1 || skip "no Docker engine answers"
[ -e .git ] || skip "$src is not a git checkout: the ZIP is made from one"

# The host's Debian mirror for bookworm.
mirror=$(sh "$src/test/images/debian-mirror.sh")

recipe="mmdebstrap --variant=minbase bookworm $mirror; recipe 1"
tag=bluegreen-fresh:bookworm-$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
work=$(mktemp -d "${TMPDIR:-/tmp}/bg-fresh.XXXXXX")
cleanup() {
	[ -n "${cid:-}" ] && docker rm -f "$cid" >/dev/null 2>&1
	[ "${BG_FRESH_KEEP:-}" = 1 ] && { echo "kept $work"; return; }
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== image $tag ($recipe)"
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "cached"
else
	start=$(date +%s)
	mmdebstrap --variant=minbase --quiet bookworm "$work/rootfs.tar" "$mirror" ||
		fail "mmdebstrap could not build a bookworm root filesystem from $mirror"
	docker import --message "bluegreen fresh-machine test: $recipe" \
		--change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$tag" >/dev/null ||
		fail "docker import of the root filesystem failed"
	rm -f "$work/rootfs.tar"
	echo "built in $(($(date +%s) - start)) s"
fi

echo "== the release ZIP (ci/package.sh)"
ci/package.sh "$work/dist" || fail "ci/package.sh failed"
zip=$(ls "$work"/dist/bluegreen-*.zip)
version=$(basename "$zip" .zip)
version=${version#bluegreen-}
(cd "$work/dist" && sha256sum -c --quiet "$(basename "$zip").sha256") || fail "the .sha256 does not match"
unzip -tq "$zip" >/dev/null || fail "unzip -t: the ZIP is damaged"
# docs/install.md's steps from the ZIP, as written: its first sh block,
# the version of this ZIP for the doc's, without `./run.sh demo` (Docker).
awk '/^## From the release ZIP/ { on = 1 } on && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' \
	docs/install.md | grep -v '\./run\.sh demo' |
	sed "s/bluegreen-[0-9][0-9.]*[0-9]/bluegreen-$version/g" >"$work/install-steps.sh"
grep -q '^unzip ' "$work/install-steps.sh" || fail "docs/install.md: no unzip step found in its first sh block"

echo "== in a container of $tag"
start=$(date +%s)
cid=$(docker create --network host "$tag" /bin/sh /fresh/fresh-inside.sh \
	"/root/bluegreen-$version" "$version") || fail "docker create failed"
mkdir "$work/fresh"
cp test/release/fresh-inside.sh test/release/empty-host.json "$work/install-steps.sh" \
	"$zip" "$zip.sha256" "$work/fresh/"
docker cp "$work/fresh" "$cid:/" >/dev/null || fail "docker cp of the test files failed"
docker start -a "$cid"
rc=$?
echo "== container finished in $(($(date +%s) - start)) s, exit $rc"
[ "$rc" -eq 0 ] || fail "the fresh-machine steps failed (above)"
echo "PASS: fresh Debian 12 minbase: build, --version, validate, plan --observed, meson install"
