#!/bin/sh
# t-layers.sh: the layering check (ci/layers.py over ci/layers.txt) passes on
# this tree, and fails, naming file:line, on a copy of it with one wrong
# thing planted at a time: an include that goes up a layer (also written
# <x.h> or as a path), an include across two drivers, an internal header
# used from another folder, a prototype in a .c file (also over several
# lines), a question about which edge is configured outside the edge
# drivers (the kind enum, g->edge_kind, the kind's name), a reconciler,
# converge or CLI file that goes around the runtime interface to the
# Docker client (its header, its calls), and a file in no group; and a
# comment that names the kind is not taken for code.
# Environment: BG_SRCDIR.
set -u
src=${BG_SRCDIR:?BG_SRCDIR is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
ok() { echo "ok: $*"; }
bad() { echo "not ok: $*"; failed=1; }

if out=$(python3 "$src/ci/layers.py" --root "$src" 2>&1); then
	ok "this tree passes the layering check"
else
	bad "this tree fails the layering check:"
	echo "$out" | sed 's/^/    /'
fi

# plant NAME FILE LINE EXPECT: a fresh copy with LINE appended to FILE; the
# check must fail and print EXPECT (a fixed string, starting with FILE:).
plant() {
	rm -rf "$tmp/t" && mkdir -p "$tmp/t" &&
		cp -R "$src/ci" "$src/controller" "$src/reconcilers" "$tmp/t/" || { bad "cannot copy the tree"; return; }
	mkdir -p "$(dirname "$tmp/t/$2")"
	printf '%s\n' "$3" >>"$tmp/t/$2"
	if out=$(python3 "$tmp/t/ci/layers.py" --root "$tmp/t" 2>&1); then
		bad "$1: the check passed"
	elif printf '%s\n' "$out" | grep -qF -- "$4"; then
		ok "$1: $(printf '%s\n' "$out" | grep -F -- "$4" | head -n 1)"
	else
		bad "$1: the check failed without '$4':"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}
plant "upward include" controller/base/bg-buf.c '#include "plan.h"' \
	"controller/base/bg-buf.c:"
plant "driver includes driver" controller/history/lock.c '#include "dk.h"' \
	"include dk.h crosses layer 3 history -> 3 runtime"
plant "internal header" reconcilers/rec.c '#include "dk-int.h"' \
	"includes dk-int.h, internal to controller/runtime/docker/"
plant "prototype in a .c" reconcilers/rec.c 'int rec_sneaky_call(int x);' \
	"declares rec_sneaky_call() in a .c file"
plant "edge kind outside the edge" controller/converge/apply.c \
	'static int k(const struct cfg *c) { return c->g.edge_kind == CFG_EDGE_NGINX; }' \
	"asks which edge is configured"
plant "Docker client header around rt.h" controller/converge/apply.c '#include "dk.h"' \
	"includes dk.h of controller/runtime/docker/: reach the engine through rt.h"
plant "Docker client header around rt.h (cli)" controller/cli/cli.c '#include "dkev.h"' \
	"includes dkev.h of controller/runtime/docker/: reach the engine through rt.h"
plant "Docker client call around rt.h" reconcilers/rec-volume.c \
	'static int k(const char *s) { return dk_volume_remove(NULL, s, NULL); }' \
	"calls dk_volume_remove() of controller/runtime/docker/"
plant "file in no group" controller/stray/stray.c '/* stray */' \
	"controller/stray/stray.c:1: not in any group"
plant "upward include in angle brackets" controller/base/bg-buf.c '#include <plan.h>' \
	"include plan.h crosses layer 0 base -> 4 model"
plant "upward include by path" controller/base/bg-buf.c '#include "../model/plan.h"' \
	'product headers are included as "plan.h"'
plant "prototype over two lines" reconcilers/rec.c 'int
rec_sneaky_split(int x,
		int y);' "declares rec_sneaky_split() in a .c file"
plant "edge kind through a pointer" controller/daemon/watch.c \
	'static int k2(const struct cfg_global *g) { return g->edge_kind; }' \
	"asks which edge is configured (g->edge_kind)"
plant "edge kind by name" controller/converge/apply.c \
	'static int k3(const struct cfg *c) { return strcmp(edge_for(c)->kind, "nginx") == 0; }' \
	'asks which edge is configured ("nginx")'
plant "a comment is not code" controller/converge/apply.c '/* g.edge_kind == CFG_EDGE_NGINX */
int rec_sneaky_after_comment(void);' "declares rec_sneaky_after_comment() in a .c file"
if printf '%s\n' "$out" | grep -q "asks which edge"; then
	bad "a comment naming the edge kind was taken for code: $out"
else
	ok "the comment that names the edge kind was not taken for code"
fi
exit "$failed"
