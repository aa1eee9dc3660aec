#!/bin/sh
# fresh-inside.sh SRC VERSION: run by t-fresh.sh as root inside a container
# of a minimal Debian 12 (mmdebstrap --variant=minbase), with /fresh/
# holding the ZIP, its .sha256 and install-steps.sh (docs/install.md's
# steps); SRC is the tree those steps unpack. What a new user does, in
# order; the first step that fails ends it with its output shown and
# exit 1.
set -u
src=$1 version=$2
fail() { echo "FAIL: $*"; exit 1; }
step() { echo; echo "== $*"; }

step "nothing of bluegreen's toolchain is installed yet"
for p in gcc meson libyaml-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' &&
		fail "$p is already installed in the fresh image: the test proves nothing"
done

step "docs/install.md's steps from the ZIP, as written (but ./run.sh demo)"
sed 's/^/    /' /fresh/install-steps.sh
cp /fresh/bluegreen-*.zip* "$(dirname "$src")/" && cd "$(dirname "$src")" || fail "cannot copy the ZIP"
sh -ex /fresh/install-steps.sh || fail "a step of docs/install.md failed (above)"
cd "$src" || fail "the steps did not unpack $src"
[ -d .git ] && fail "the release tree has a .git directory"

step "./run.sh --version (built above: prints the version)"
out=$(./run.sh --version 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 40
[ "$rc" -eq 0 ] || fail "./run.sh --version exited $rc"
printf '%s\n' "$out" | grep -Eq "^bluegreen $version( \\(git [0-9a-f]+(-dirty)?\\))?\$" ||
	fail "./run.sh --version did not print 'bluegreen $version'"

step "./run.sh -c examples/demo validate"
./run.sh -c examples/demo validate || fail "validate of the bundled demo config exited $?"

step "the unpacked folder moved after its first build: ./run.sh -c examples/demo validate"
# meson bakes absolute paths (the built-in profiles' directory): run.sh
# must set build/ up afresh for the new place, and say so.
# Without .commit too (a tree copied without it, no git here): the rebuilt
# binary must print the bare version, not a made-up commit.
rm -f "$src/.commit"
cd / && mv "$src" "$src.moved" && src=$src.moved && cd "$src" || fail "cannot move the tree"
out=$(./run.sh -c examples/demo validate 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 20
[ "$rc" -eq 0 ] || fail "validate after moving the tree exited $rc"
printf '%s\n' "$out" | grep -q 'the tree moved): setting it up afresh' ||
	fail "run.sh did not say it set build/ up afresh after the move"
out=$(./run.sh --version 2>&1)
[ "$out" = "bluegreen $version" ] ||
	fail "./run.sh --version without .commit or git printed '$out', not 'bluegreen $version'"

step "./run.sh -c examples/demo plan --observed (a snapshot of an empty host)"
out=$(./run.sh -c examples/demo plan --observed /fresh/empty-host.json 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 2 ] || fail "plan --observed exited $rc, not 2 (changes pending)"
printf '%s\n' "$out" | grep -Eq 'create +container +hello-blue' || fail "the plan does not deploy hello"
printf '%s\n' "$out" | grep -Eq '^  bluegreen apply [0-9a-f]{12,}' || fail "the plan prints no token"

step "the GitOps example: validate and plan against its snapshot"
./run.sh -c examples/gitops/config validate || fail "validate of examples/gitops/config exited $?"
./run.sh -c examples/gitops/config plan --observed examples/gitops/config/observed/snapshot.json
rc=$?
[ "$rc" -eq 2 ] || fail "plan --observed of the GitOps example exited $rc, not 2"

step "./run.sh help plan, and the man page and completion installed without scdoc"
./run.sh help plan | grep -q -- '--observed FILE' || fail "help plan does not show --observed"
command -v scdoc >/dev/null && fail "scdoc got installed: the product build must not need it"
meson install -C build --destdir /tmp/inst >/tmp/inst.log 2>&1 || { cat /tmp/inst.log; fail "meson install failed"; }
for f in usr/local/bin/bluegreen usr/local/share/man/man1/bluegreen.1 \
	usr/local/share/bash-completion/completions/bluegreen \
	usr/local/lib/systemd/system/bluegreen.service \
	usr/local/share/bluegreen/profiles/pro.conf; do
	[ -f "/tmp/inst/$f" ] || fail "meson install did not install /$f"
done
cmp -s docs/man/bluegreen.1 /tmp/inst/usr/local/share/man/man1/bluegreen.1 ||
	fail "the installed man page is not the ZIP's prebuilt one"

step "no test tool was installed for the product"
for p in libcmocka-dev clang valgrind python3-jsonschema docker.io scdoc zip; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' &&
		fail "$p was installed for the product path"
done
echo
echo "fresh machine: all steps passed"
