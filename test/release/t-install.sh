#!/bin/sh
# t-install.sh: `meson install` puts everything where docs/install.md says.
#   1. this build directory, installed with --destdir into a scratch root:
#      the binary (it runs), the profiles, bluegreen(1), the bash and zsh
#      completions, the systemd unit (naming the installed binary and its
#      installed documentation) and the docs, under the build's prefix, the
#      installed README's links into docs/ leading to installed files;
#   2. --prefix is respected: a second configuration of the tree with
#      --prefix=/opt/bgtest (no build: `meson introspect --installed` and
#      the unit alone) installs every file under /opt/bgtest, and its unit
#      runs /opt/bgtest/bin/bluegreen.
# Environment: BG_BUILDDIR, BG_SRCDIR (meson's test_env).
set -u
build=${BG_BUILDDIR:?BG_BUILDDIR is not set}
src=${BG_SRCDIR:?BG_SRCDIR is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
bad() { echo "not ok: $*"; failed=1; }

prefix=$(meson introspect "$build" --buildoptions |
	grep -o '"name": "prefix", "value": "[^"]*"' | sed 's/.*"value": "\(.*\)"/\1/')
[ -n "$prefix" ] || { echo "FAIL: no prefix in meson introspect $build"; exit 1; }

# 1. The real install, into a scratch root.
if ! meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: meson install failed"
	exit 1
fi
root=$tmp/root$prefix
for f in bin/bluegreen share/bluegreen/profiles/pro.conf share/bluegreen/profiles/infra-only.conf \
	share/bluegreen/profiles/wordpress.conf share/man/man1/bluegreen.1 \
	share/bash-completion/completions/bluegreen share/zsh/site-functions/_bluegreen \
	lib/systemd/system/bluegreen.service share/doc/bluegreen/docs/install.md \
	share/doc/bluegreen/docs/watch.md share/doc/bluegreen/README.md share/doc/bluegreen/LICENSE; do
	[ -f "$root/$f" ] && echo "ok: $prefix/$f" || bad "$prefix/$f was not installed"
done
"$root/bin/bluegreen" --version | grep -q '^bluegreen [0-9]' && echo "ok: the installed binary runs" ||
	bad "the installed bluegreen --version failed"
grep -qx "ExecStart=$prefix/bin/bluegreen -c /etc/bluegreen watch" "$root/lib/systemd/system/bluegreen.service" &&
	echo "ok: the unit runs $prefix/bin/bluegreen" || bad "the unit's ExecStart is not $prefix/bin/bluegreen"
grep -q '^\.TH "bluegreen" "1"' "$root/share/man/man1/bluegreen.1" && echo "ok: bluegreen.1 is roff" ||
	bad "the installed man page is not roff"
[ -d "$root/share/doc/bluegreen/docs/man" ] && bad "docs/man/ was installed among the docs"
[ -d "$root/share/doc/bluegreen/docs/completion" ] && bad "docs/completion/ was installed among the docs"
# The installed README's links to docs/ lead somewhere (docs/ keeps its name).
n=0
for l in $(grep -oE '\]\(docs/[^)#]*' "$root/share/doc/bluegreen/README.md" | sed 's/^](//' | sort -u); do
	n=$((n + 1))
	[ -e "$root/share/doc/bluegreen/$l" ] || bad "the installed README.md links $l, not installed there"
done
[ "$n" -gt 0 ] && echo "ok: the installed README's $n links into docs/ were checked" ||
	bad "no link to docs/ found in the installed README.md"
# The unit's Documentation= is an installed file.
doc=$(sed -n 's|^Documentation=file:||p' "$root/lib/systemd/system/bluegreen.service")
[ -n "$doc" ] && [ -f "$tmp/root$doc" ] && echo "ok: the unit's Documentation= $doc is installed" ||
	bad "the unit's Documentation=file:$doc is not installed"
find "$tmp/root" -type f | sed "s|^$tmp/root||" | grep -v "^$prefix/" | sed 's/^/    outside the prefix: /' | grep . &&
	bad "files installed outside $prefix"

# 2. Another prefix: where everything would go, without building.
if ! meson setup "$tmp/b2" "$src" --prefix=/opt/bgtest -Dtests=disabled -Dfuzzers=disabled \
	-Dbenchmarks=disabled >"$tmp/setup.log" 2>&1; then
	cat "$tmp/setup.log"
	echo "FAIL: meson setup --prefix=/opt/bgtest failed"
	exit 1
fi
meson introspect "$tmp/b2" --installed | tr ',' '\n' | sed -n 's/.*: "\(.*\)".*/\1/p' >"$tmp/dests"
n=$(wc -l <"$tmp/dests")
[ "$n" -ge 10 ] || bad "only $n installed files listed for --prefix=/opt/bgtest"
grep -v '^/opt/bgtest/' "$tmp/dests" | sed 's/^/    /' | grep . && bad "files outside --prefix=/opt/bgtest"
for f in bin/bluegreen share/man/man1/bluegreen.1 share/bash-completion/completions/bluegreen \
	lib/systemd/system/bluegreen.service share/bluegreen/profiles/pro.conf; do
	grep -qx "/opt/bgtest/$f" "$tmp/dests" || bad "/opt/bgtest/$f is not installed with --prefix"
done
ninja -C "$tmp/b2" bluegreen.service >/dev/null 2>&1 || bad "building the unit for /opt/bgtest failed"
grep -qx 'ExecStart=/opt/bgtest/bin/bluegreen -c /etc/bluegreen watch' "$tmp/b2/bluegreen.service" &&
	echo "ok: --prefix=/opt/bgtest: $n files under it, the unit runs /opt/bgtest/bin/bluegreen" ||
	bad "the unit for --prefix=/opt/bgtest does not run /opt/bgtest/bin/bluegreen"
[ "$failed" -eq 0 ] && echo PASS || echo FAIL
exit "$failed"
