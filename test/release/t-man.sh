#!/bin/sh
# t-man.sh: bluegreen(1) (docs/man/bluegreen.1.scd) and the binary's own
# help list the same things, both ways:
#   - the commands of `bluegreen --help` and the man page's COMMANDS;
#   - per command, the options of `bluegreen help CMD` and of its entry in
#     the man page (`bluegreen CMD --help` must print the same as help CMD),
#     and every option controller/cli/cmd-CMD.c parses is in help CMD;
#   - the global options of `--help` and the man page's OPTIONS;
#   - `help help`, `help --help`, `help CMD extra`, and help's synopsis
#     the same in --help, `help help` and the man page;
#   - the exit codes of controller/base/bg.h (enum bg_exit) and EXIT STATUS;
#   - the state directory's files (docs/architecture.md's table) and FILES;
#   - the environment variables the sources read (getenv("...") and
#     "BLUEGREEN_*" names, in controller/ and reconcilers/) and ENVIRONMENT
#     (BLUEGREEN_FAULT excepted: it exists only in fault-injection test
#     builds, docs/testing.md).
# Also, when meson built the page (scdoc found), the built bluegreen.1 is
# the page: it names every command.
# Environment: BG_BINARY, BG_SRCDIR, BG_BUILDDIR (meson's test_env).
set -u
bin=${BG_BINARY:?BG_BINARY is not set}
src=${BG_SRCDIR:?BG_SRCDIR is not set}
man=$src/docs/man/bluegreen.1.scd
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bg-t-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
bad() { echo "not ok: $*"; failed=1; }

# same WHAT A B: the sorted word lists in files A and B are equal
same() {
	sort -u "$2" >"$2.s"
	sort -u "$3" >"$3.s"
	if ! cmp -s "$2.s" "$3.s"; then
		bad "$1 differ (< the binary's help, > the man page):"
		diff "$2.s" "$3.s" | grep '^[<>]' | sed 's/^/    /'
	else
		echo "ok: $1 ($(wc -l <"$2.s") the same)"
	fi
}

# Options in text: every -x / --long word, without =VALUE.
opts() { grep -oE '(^|[[:space:],[(])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[[:space:],[(]//' | sort -u; }

# A section of the man page: from "# NAME" to the next "# ".
section() { awk -v s="# $1" '$0 == s { on = 1; next } /^# / { on = 0 } on' "$man"; }

"$bin" --help >"$tmp/help" 2>&1 || bad "bluegreen --help exited $?"

# Commands.
awk '/^  [a-z]+  / { print $1 }' "$tmp/help" >"$tmp/cmds.bin"
section COMMANDS | sed -n 's/^\*\([a-z]*\)\*.*/\1/p' >"$tmp/cmds.man"
same "commands" "$tmp/cmds.bin" "$tmp/cmds.man"
[ -s "$tmp/cmds.bin" ] || bad "no command found in bluegreen --help"

# Per command: options.
for c in $(sort -u "$tmp/cmds.bin" "$tmp/cmds.man"); do
	[ "$c" = help ] && continue
	"$bin" help "$c" >"$tmp/h.$c" 2>&1 || bad "bluegreen help $c exited $?"
	"$bin" "$c" --help >"$tmp/h2.$c" 2>&1 || bad "bluegreen $c --help exited $?"
	cmp -s "$tmp/h.$c" "$tmp/h2.$c" || bad "bluegreen $c --help is not bluegreen help $c"
	# The usage line, and the option lines, each minus the global options.
	sed -n 's/^usage: bluegreen \[-c CONFIG_DIR\] \[--json\]//p' "$tmp/h.$c" | opts |
		grep -vx -e '--json' -e '--help' >"$tmp/u.bin.$c"
	grep -E '^  -' "$tmp/h.$c" | opts | grep -vx -e '--json' -e '--help' >"$tmp/o.bin.$c"
	# The man page: the entry's synopsis line ("*c* ..."), and the option
	# lines under it (a tab, then "*-"); not the prose, which may name
	# another command's option.
	section COMMANDS | awk -v c="*$c*" '
		index($0, c) == 1 { on = 1; print; next }
		/^\*[a-z]+\*/ { on = 0 }' | sed 's/\*//g' | opts |
		grep -vx -e '--json' -e '--help' >"$tmp/u.man.$c"
	section COMMANDS | awk -v c="*$c*" '
		index($0, c) == 1 { on = 1; next }
		/^\*[a-z]+\*/ { on = 0 }
		on && /^\t\*-/' | sed 's/\*//g' | opts |
		grep -vx -e '--json' -e '--help' >"$tmp/o.man.$c"
	same "usage line of $c" "$tmp/u.bin.$c" "$tmp/u.man.$c"
	same "options of $c" "$tmp/o.bin.$c" "$tmp/o.man.$c"
	# Every option the verb's parser compares an argument with is in its
	# help (so a new option cannot be missed by both help and man page).
	if [ -f "$src/controller/cli/cmd-$c.c" ]; then
		grep -oE 'argv\[i\], "--?[a-zA-Z][a-zA-Z-]*=?"' "$src/controller/cli/cmd-$c.c" |
			grep -oE '"--?[a-zA-Z-]+' | tr -d '"' | sort -u |
			grep -vx -e '--json' -e '--help' >"$tmp/o.src.$c"
		missing=$(comm -23 "$tmp/o.src.$c" "$tmp/o.bin.$c.s")
		[ -z "$missing" ] || bad "controller/cli/cmd-$c.c parses $(echo $missing) but bluegreen help $c does not list it"
	else
		bad "no controller/cli/cmd-$c.c for command $c"
	fi
done

# help itself. `help help` and `help --help` print help's own usage (exit
# 0); a second COMMAND is refused as such (exit 1), not as an unknown
# command. Its synopsis is the same in --help, `help help`, the man page's
# SYNOPSIS and its COMMANDS entry.
for h in help --help; do
	if "$bin" help "$h" >"$tmp/hh" 2>&1; then
		grep -q '^usage: bluegreen .*help \[COMMAND\]$' "$tmp/hh" &&
			! grep -q 'unknown command' "$tmp/hh" &&
			echo "ok: bluegreen help $h prints help's usage" ||
			bad "bluegreen help $h: not help's usage: $(head -n 3 "$tmp/hh")"
	else
		bad "bluegreen help $h exited $?: $(tail -n 1 "$tmp/hh")"
	fi
done
"$bin" help plan extra >"$tmp/hx" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "help takes one COMMAND, not 'extra'" "$tmp/hx" &&
	! grep -q 'unknown command' "$tmp/hx"; then
	echo "ok: bluegreen help plan extra: help takes one COMMAND (exit 1)"
else
	bad "bluegreen help plan extra exited $rc: $(cat "$tmp/hx")"
fi
{
	sed -n 's/^ *bluegreen \(help [^|]*[^ |]\).*/\1/p' "$tmp/help"
	sed -n 's/^usage: bluegreen \[-c CONFIG_DIR\] \[--json\] //p' "$tmp/hh"
	section SYNOPSIS | sed -n 's/^\*bluegreen help\* /help /p' | tr -d '*_'
	section COMMANDS | sed -n 's/^\*help\* /help /p' | tr -d '*_'
} >"$tmp/hsyn"
if [ "$(wc -l <"$tmp/hsyn")" -eq 4 ] && [ "$(sort -u "$tmp/hsyn" | wc -l)" -eq 1 ]; then
	echo "ok: help's synopsis is '$(head -n 1 "$tmp/hsyn")' everywhere"
else
	bad "help's synopsis differs (--help, help help, man SYNOPSIS, man COMMANDS):"
	sed 's/^/    /' "$tmp/hsyn"
fi
# Every command that can exit other than 0 or 1 says how in its help.
for c in plan apply rollback; do
	grep -q '^Exit ' "$tmp/h.$c" && echo "ok: help $c names its exit codes" ||
		bad "bluegreen help $c names no exit code"
done

# Global options.
sed -n '/^options:/,/^$/p' "$tmp/help" | opts >"$tmp/g.bin"
section OPTIONS | sed 's/\*//g' | grep -E '^-' | opts >"$tmp/g.man"
same "global options" "$tmp/g.bin" "$tmp/g.man"

# Exit codes.
grep -oE 'BG_EXIT_[A-Z_]+ = [0-9]+' "$src/controller/base/bg.h" | awk '{ print $3 }' >"$tmp/x.src"
section "EXIT STATUS" | sed -n 's/^\*\([0-9]*\)\*$/\1/p' >"$tmp/x.man"
same "exit codes" "$tmp/x.src" "$tmp/x.man"
[ -s "$tmp/x.src" ] || bad "no BG_EXIT_ value found in controller/base/bg.h"

# Environment.
find "$src/controller" "$src/reconcilers" -name "*.[ch]" -exec cat {} + |
	grep -oE 'getenv\("[A-Z_]+"\)|"BLUEGREEN_[A-Z_]+"' | grep -oE '[A-Z_]{3,}' |
	grep -vE '^BLUEGREEN_FAULT(_[A-Z_]+)?$' >"$tmp/e.src"
section ENVIRONMENT | sed -n 's/^\*\([A-Z_]*\)\*$/\1/p' >"$tmp/e.man"
same "environment variables" "$tmp/e.src" "$tmp/e.man"

# Files: every entry of docs/architecture.md's state directory table is
# in FILES as _STATE_DIR_/NAME.
awk '/^## The state directory/ { on = 1; next } /^## / { on = 0 } on' "$src/docs/architecture.md" |
	sed -n 's/^| `\([^`]*\)` |.*/\1/p' >"$tmp/f.src"
section FILES | sed -n 's/^_STATE_DIR_\/\([^ ]*\)$/\1/p' >"$tmp/f.man"
same "state directory files (< docs/architecture.md)" "$tmp/f.src" "$tmp/f.man"
[ -s "$tmp/f.src" ] || bad "no state directory table found in docs/architecture.md"

# The page meson built, if it did.
if [ -n "${BG_BUILDDIR:-}" ] && [ -f "$BG_BUILDDIR/bluegreen.1" ]; then
	for c in $(cat "$tmp/cmds.man"); do
		grep -q "^\\\\fB$c\\\\fR" "$BG_BUILDDIR/bluegreen.1" || bad "the built bluegreen.1 lacks $c"
	done
	echo "ok: the built bluegreen.1 names every command"
fi
[ "$failed" -eq 0 ] && echo "PASS" || echo "FAIL"
exit "$failed"
