#!/bin/bash
# t-completion.sh: the bash completion (docs/completion/bluegreen.bash), run
# for real: sourced into bash, COMP_WORDS/COMP_CWORD set as readline would
# (words split at "=" too, as COMP_WORDBREAKS says: `--config=DIR` is
# "--config" "=" "DIR"), _bluegreen called, COMPREPLY checked, and whether
# it asked for no space after the reply. Each command's options offered
# are those of `bluegreen help CMD` (bash and zsh), so a new option cannot
# be left out of the completions. Site names come from a real config
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

# bash's default word breaks (an interactive bash sets it; set here so the
# test does not depend on how it is run).
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
# compopt works only inside a real completion: record what was asked.
compopt() { [[ "$*" == *"-o nospace"* ]] && nospace=1; return 0; }

# expect "WANT" WORD...: complete the last word of the line, compare. The
# words are split as readline splits them: at every "=" while "=" is in
# COMP_WORDBREAKS ("--trace=a" is "--trace" "=" "a"; "--trace=" is
# "--trace" "="). expect_nospace: the same, and the reply must be followed
# by no space.
expect() {
	local want=$1 w part
	shift
	COMP_WORDS=()
	for w in "$@"; do
		if [[ $COMP_WORDBREAKS == *=* && $w == *=* ]]; then
			while [[ $w == *=* ]]; do
				part=${w%%=*}
				[[ -n $part ]] && COMP_WORDS+=("$part")
				COMP_WORDS+=("=")
				w=${w#*=}
			done
			[[ -n $w ]] && COMP_WORDS+=("$w")
		else
			COMP_WORDS+=("$w")
		fi
	done
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	nospace=0
	_bluegreen
	local got shown
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	got=${got% }
	shown=$(printf '[%s]' "${COMP_WORDS[@]}")
	if [[ $got == "$want" ]]; then
		echo "ok: $shown| -> $got"
	else
		echo "not ok: $shown| -> '$got', want '$want'"
		failed=1
		return 1
	fi
}
expect_nospace() {
	expect "$@" || return 1
	if [[ $nospace -ne 1 ]]; then
		echo "not ok: ... -> '$1' is followed by a space (want none: compopt -o nospace)"
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
expect_nospace "--trace=" "$bin" --tr
expect "all apply cfg dk edge hist loop plan" "$bin" --trace=
expect "plan" "$bin" --trace=pl
expect "dk,plan" "$bin" --trace=dk,pl
expect "" "$bin" plan --trace=
expect "--help" "$bin" --h
expect "--observed" "$bin" plan --obs
expect "--confirm" "$bin" apply --co
expect "--follow" "$bin" log --fo
expect "--confirm --help --json --restore --to --yes -y" "$bin" -c "$cfg" rollback -
expect "$A $B" "$bin" -c "$cfg" status ""
expect "$B" "$bin" -c "$cfg" rollback "$B"
expect "$A" "$bin" --config "$cfg" plan --retry "$A"
expect "$A $B" "$bin" --config="$cfg" plan ""
expect "$A" "$bin" --config="$cfg" --trace=plan status "$A"
expect "$cfg" "$bin" --config="${cfg%fg}"
expect "--export" "$bin" history --ex
expect "--from" "$bin" history --verify --fr
expect "$cfg/global.conf" "$bin" history --verify --from "$cfg/gl"
expect "$cfg/global.conf" "$bin" history --export "$cfg/gl"
# "=" not a word break (a user's setting): one word, the reply whole.
(
	COMP_WORDBREAKS=$' \t\n'
	expect "--config=$cfg" "$bin" --config="${cfg%fg}" &&
		expect "--trace=dk,plan" "$bin" --trace=dk,pl &&
		expect "$A $B" "$bin" --config="$cfg" plan ""
) || failed=1

# Every command's options, from its own help: `bluegreen help CMD` (the
# usage line after the command, and the option lines) plus --json and
# --help, is what `CMD -<TAB>` offers in bash and what zsh's _arguments
# line for CMD names.
for c in $("$bin" --help | awk '/^  [a-z]+  / { print $1 }'); do
	[[ $c == help ]] && continue
	want=$(
		{
			"$bin" help "$c" | sed -n 's/^usage: bluegreen \[-c CONFIG_DIR\] \[--json\]//p'
			"$bin" help "$c" | grep -E '^  -'
		} | grep -oE '(^|[[:space:],[(|])--?[a-zA-Z][a-zA-Z-]*' | grep -oE -- '--?[a-zA-Z-]+'
		printf '%s\n' --json --help
	)
	want=$(printf '%s\n' "$want" | sort -u | tr '\n' ' ')
	want=${want% }
	[[ -n $want ]] || { echo "not ok: no option found in bluegreen help $c"; failed=1; }
	expect "$want" "$bin" "$c" -
	zline=$(grep -E "^[[:space:]]+$c\) " "$src/docs/completion/_bluegreen")
	zgot=$(printf '%s\n' "${zline#*)}" | grep -oE "(^|['{,)*])--?[a-zA-Z][a-zA-Z-]*" |
		grep -oE -- '--?[a-zA-Z-]+' | sort -u | tr '\n' ' ')
	zgot=${zgot% }
	if [[ $zgot == "$want" ]]; then
		echo "ok: zsh $c: $zgot"
	else
		echo "not ok: zsh _bluegreen's $c offers '$zgot', bluegreen help $c has '$want'"
		failed=1
	fi
done
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
