#!/bin/bash
# t-completion.sh: the bash completion (docs/completion/bluegreen.bash), run
# for real: sourced into bash, COMP_WORDS/COMP_CWORD set as readline would,
# _bluegreen called, COMPREPLY checked. Site names come from a real config
# directory; apply's pending token from a real plan journaled by the
# binary under test against the Docker engine (plan changes nothing there).
# Without an engine that part is a skip (exit 77), under CI=true a failure.
# Also: the zsh completion parses (zsh -n) when zsh is installed.
# Environment: BG_BINARY, BG_SRCDIR (meson's test_env).
set -u
export LC_ALL=C
bin=${BG_BINARY:?BG_BINARY is not set}
src=${BG_SRCDIR:?BG_SRCDIR is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0

# shellcheck source=../../docs/completion/bluegreen.bash
source "$src/docs/completion/bluegreen.bash" || { echo "FAIL: cannot source the completion"; exit 1; }
complete -p bluegreen | grep -q -- '-F _bluegreen' || { echo "FAIL: no complete -F _bluegreen"; exit 1; }

# expect "WANT" WORD...: complete the last word of the line, compare.
expect() {
	local want=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_bluegreen
	local got
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	got=${got% }
	if [[ $got == "$want" ]]; then
		echo "ok: ${COMP_WORDS[*]}| -> $got"
	else
		echo "not ok: ${COMP_WORDS[*]}| -> '$got', want '$want'"
		failed=1
		return 1
	fi
}

# A config directory with two sites (the demo's, state inside), named for
# this run so that a plan never meets another test's containers.
id=tc$(($$ % 100000))
A=${id}a B=${id}b
cfg=$tmp/cfg
cp -r "$src/examples/demo" "$cfg"
rm -rf "$cfg/state" "$cfg/sites/hello.conf"
sed "s/hello/$A/g" "$src/examples/demo/sites/hello.conf" >"$cfg/sites/$A.conf"
sed "s/hello/$B/g" "$src/examples/demo/sites/hello.conf" >"$cfg/sites/$B.conf"

expect "plan" "$bin" pl
expect "help history" "$bin" h
expect "--config --help --json --trace= --version" "$bin" --
expect "--help" "$bin" --h
expect "--observed" "$bin" plan --obs
expect "--confirm" "$bin" apply --co
expect "--follow" "$bin" log --fo
expect "--help --json --yes -y" "$bin" -c "$cfg" rollback -
expect "$A $B" "$bin" -c "$cfg" status ""
expect "$B" "$bin" -c "$cfg" rollback "$B"
expect "$A" "$bin" --config "$cfg" plan --retry "$A"
expect "$A $B" "$bin" --config="$cfg" plan ""
expect "validate" "$bin" help va
(cd "$cfg" && expect "$A $B" "$bin" history "") || failed=1
BLUEGREEN_CONFIG=$cfg expect "$A $B" "$bin" status ""
# No site from an empty directory, no token without a plan.
mkdir "$tmp/empty"
expect "" "$bin" -c "$tmp/empty" status ""
expect "" "$bin" -c "$cfg" apply ""

# The pending token: a plan journaled for real.
if docker info >/dev/null 2>&1; then
	out=$("$bin" -c "$cfg" plan 2>&1)
	rc=$?
	token=$(printf '%s\n' "$out" | sed -n 's/^  bluegreen apply \([0-9a-f]*\).*/\1/p')
	if [[ $rc -ne 2 || -z $token ]]; then
		echo "not ok: bluegreen plan exited $rc without a token:"
		printf '%s\n' "$out" | tail -n 20
		failed=1
	else
		expect "$token" "$bin" -c "$cfg" apply ""
		expect "$token" "$bin" -c "$cfg" apply "${token:0:3}"
		expect "" "$bin" -c "$cfg" apply 0000
	fi
else
	case ${CI:-} in
	true | 1) echo "not ok: no Docker engine answers (CI=true: never skipped)"; failed=1 ;;
	*) echo "SKIP: no Docker engine: apply's token completion was not checked"; [[ $failed -eq 0 ]] && exit 77 ;;
	esac
fi

if command -v zsh >/dev/null 2>&1; then
	if zsh -n "$src/docs/completion/_bluegreen"; then echo "ok: zsh -n _bluegreen"; else failed=1; fi
fi
[[ $failed -eq 0 ]] && echo PASS || echo FAIL
exit $failed
