#!/usr/bin/env python3
"""layers.py: fail when an include crosses a layer the wrong way.

Reads ci/layers.txt (the layer and group of every product file) and checks,
over controller/ and reconcilers/:
  - every #include "x.h" of a product header goes to a lower layer or to
    the file's own group;
  - an internal header (*-int.h) is included only from its own folder;
  - no .c file declares a non-static function (a prototype in a .c file is
    how an interface gets walked around);
  - only the files of the edge-kind-only row name an edge kind
    (CFG_EDGE_*, cfg->g.edge_kind, edge_impl_get) or read one edge's own
    settings (cfg->g.nginx., cfg->g.traefik.): nothing else asks which
    edge is configured;
  - the files of the engine-via-rt row reach the container engine only
    through the runtime interface (rt.h): they include no header of the
    Docker client's folder (dk.h, dk-int.h, dkev.h, ...) and call no dk_
    or dkev_ function, so a second runtime changes nothing in them;
  - every product file belongs to a group.
Prints "file:line: what" per problem and exits 1 when there is any.

  layers.py [--root DIR]    (default: the tree this script is in)
"""
import fnmatch
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# A declaration at file scope that is not static: "type name(args);".
PROTO = re.compile(r'^(?!static\b)(?!typedef\b)(?!extern\s+const\b)[A-Za-z_][A-Za-z0-9_ \t\*]*?\b([a-z_][a-z0-9_]*)\s*\([^;{]*\)\s*(BG_PRINTF\([^)]*\)\s*)?;\s*$')
# Asking which edge is configured, or reading one edge's own settings.
EDGE_KIND = re.compile(r'\bCFG_EDGE_[A-Z]+\b|\bg\.edge_kind\b|\bedge_impl_get\b|\bg\.(nginx|traefik)\b')
# The Docker client (its folder) and a call of one of its functions: what
# the engine-via-rt row's files reach only through rt.h.
DOCKER_DIR = 'controller/runtime/docker'
DOCKER_CALL = re.compile(r'\b(dk|dkev)_[a-z0-9_]*\s*\(')
COMMENT = re.compile(r'/\*.*?\*/|//.*$')


def load(path):
    groups, edge_only, via_rt = [], [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            if line[0] == 'edge-kind-only':
                edge_only = line[1:]
            elif line[0] == 'engine-via-rt':
                via_rt = line[1:]
            elif len(line) >= 3 and line[0].isdigit():
                groups.append((int(line[0]), line[1], line[2:]))
            else:
                sys.exit(f'{path}:{n}: cannot read this line')
    return groups, edge_only, via_rt


def group_of(path, groups):
    for layer, name, globs in groups:
        if any(fnmatch.fnmatch(path, g) for g in globs):
            return layer, name
    return None


def product_files(root):
    out = []
    for top in ('controller', 'reconcilers'):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith(('.c', '.h')):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def engine_direct(m, line, by_name):
    """What in this line of an engine-via-rt file goes around rt.h."""
    out = []
    if m and any(os.path.dirname(t) == DOCKER_DIR for t in by_name.get(m.group(1), [])):
        out.append(f'includes {m.group(1)} of {DOCKER_DIR}/: reach the engine through rt.h')
    code = COMMENT.sub('', line)
    if not code.lstrip().startswith(('*', '/*')):
        c = DOCKER_CALL.search(code)
        if c:
            out.append(f'calls {c.group(0).rstrip("( ")}() of {DOCKER_DIR}/: '
                       f'reach the engine through rt.h')
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) == 3 and sys.argv[1] == '--root':
        root = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit(__doc__)
    groups, edge_only, via_rt = load(os.path.join(root, 'ci', 'layers.txt'))
    files = product_files(root)
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    probs = []
    for f in files:
        mine = group_of(f, groups)
        if mine is None:
            probs.append(f'{f}:1: not in any group of ci/layers.txt')
            continue
        with open(os.path.join(root, f), encoding='utf-8', errors='replace') as fh:
            lines = fh.read().split('\n')
        rt_only = any(fnmatch.fnmatch(f, g) for g in via_rt)
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if rt_only:
                probs.extend(f'{f}:{n}: {p}' for p in engine_direct(m, line, by_name))
            if m and m.group(1) in by_name:
                target = by_name[m.group(1)][0]
                theirs = group_of(target, groups)
                if theirs is None:
                    continue
                if m.group(1).endswith('-int.h') and os.path.dirname(target) != os.path.dirname(f):
                    probs.append(f'{f}:{n}: includes {m.group(1)}, internal to {os.path.dirname(target)}/')
                elif theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
                    probs.append(f'{f}:{n}: include {m.group(1)} crosses layer '
                                 f'{mine[0]} {mine[1]} -> {theirs[0]} {theirs[1]}')
            if f.endswith('.c') and not line.startswith((' ', '\t')):
                p = PROTO.match(line)
                if p and p.group(1) != 'LLVMFuzzerTestOneInput':
                    probs.append(f'{f}:{n}: declares {p.group(1)}() in a .c file (put it in a header)')
            if not any(fnmatch.fnmatch(f, g) for g in edge_only):
                code = line.split('//', 1)[0]
                if EDGE_KIND.search(code) and not code.lstrip().startswith(('*', '/*')):
                    probs.append(f'{f}:{n}: asks which edge is configured '
                                 f'({EDGE_KIND.search(code).group(0)}): ask the edge driver')
    for p in probs:
        print(p)
    print(f'layers: {len(files)} files, {len(probs)} problems', file=sys.stderr)
    return 1 if probs else 0


if __name__ == '__main__':
    sys.exit(main())
