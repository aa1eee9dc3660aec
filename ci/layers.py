#!/usr/bin/env python3
"""layers.py: fail when an include crosses a layer the wrong way.

Reads ci/layers.txt (the layer and group of every product file) and checks,
over controller/ and reconcilers/:
  - every #include of a product header goes to a lower layer or to the
    file's own group, and names it as "x.h" (not <x.h>, not a path: every
    folder is on the include path, so either would hide the layer);
  - an internal header (*-int.h) is included only from its own folder;
  - no .c file declares a non-static function (a prototype in a .c file is
    how an interface gets walked around);
  - only the files of the edge-kind-only row name an edge kind
    (CFG_EDGE_*, the config's g.edge_kind / g->edge_kind, edge_impl_get,
    the strings "nginx" and "traefik") or read one edge's own settings
    (g.nginx, g->traefik): nothing else asks which edge is configured;
  - the files of the engine-via-rt row reach the container engine only
    through the runtime interface (rt.h): they include no header of the
    Docker client's folder (dk.h, dk-int.h, dkev.h, ...) and call no dk_
    or dkev_ function, so a second runtime changes nothing in them;
  - every product file belongs to a group.
Comments are ignored; statements are read whole, over as many lines as
they take.
Prints "file:line: what" per problem and exits 1 when there is any.

  layers.py [--root DIR]    (default: the tree this script is in)
"""
import fnmatch
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]')
# A file-scope declaration of a function that is not static (joined over
# its lines): "type name(args);".
PROTO = re.compile(r'^(?!static\b)(?!typedef\b)(?!extern\b)[A-Za-z_][\w\s\*]*?\b([a-z_]\w*)\s*\([^;{]*\)\s*(BG_PRINTF\([^)]*\)\s*)?;$', re.S)
# Asking which edge is configured, or reading one edge's own settings:
# the kind enum, the kind field, the old lookup, the per-edge config
# blocks, or an edge's name compared as a string.
EDGE_KIND = re.compile(r'\bCFG_EDGE_[A-Z]+\b|\bg(\.|->)edge_kind\b|\bedge_impl_get\b'
                       r'|\bg(\.|->)(nginx|traefik)\b|"(nginx|traefik)"')


def strip_comments(text):
    """text with every comment blanked (newlines kept, so lines still count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return ''.join(out)


def toplevel_statements(code):
    """(line, text) of each statement at file scope ending in ';'."""
    depth, start, buf, out = 0, 1, [], []
    line = 1
    for ch in code:
        if ch == '{':
            depth += 1
            buf = []
        elif ch == '}':
            depth -= 1
            buf = []
        elif depth == 0:
            if not buf and ch.isspace():
                start = line + (ch == '\n')
            elif ch == ';':
                out.append((start, ''.join(buf).strip() + ';'))
                buf = []
            elif not (ch == '\n' and not buf):
                buf.append(ch)
            if buf and buf[0] == '#':  # preprocessor lines are not statements
                if ch == '\n':
                    buf = []
        if ch == '\n':
            line += 1
    return out


# The Docker client (its folder) and a call of one of its functions: what
# the engine-via-rt row's files reach only through rt.h.
DOCKER_DIR = 'controller/runtime/docker'
DOCKER_CALL = re.compile(r'\b(dk|dkev)_[a-z0-9_]*\s*\(')


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


def engine_direct(name, line, by_name):
    """What in this (comment-free) line of an engine-via-rt file goes around rt.h."""
    out = []
    if name and any(os.path.dirname(t) == DOCKER_DIR for t in by_name.get(name, [])):
        out.append(f'includes {name} of {DOCKER_DIR}/: reach the engine through rt.h')
    c = DOCKER_CALL.search(line)
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
            code = strip_comments(fh.read())
        lines = code.split('\n')
        rt_only = any(fnmatch.fnmatch(f, g) for g in via_rt)
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            name = m and os.path.basename(m.group(2))
            if rt_only:
                probs.extend(f'{f}:{n}: {p}' for p in engine_direct(name, line, by_name))
            if m and name in by_name:
                target = by_name[name][0]
                theirs = group_of(target, groups)
                if m.group(1) == '<' or '/' in m.group(2):
                    probs.append(f'{f}:{n}: includes {m.group(2)} as {m.group(1)}{m.group(2)}: '
                                 f'product headers are included as "{name}"')
                if theirs is None:
                    continue
                if name.endswith('-int.h') and os.path.dirname(target) != os.path.dirname(f):
                    probs.append(f'{f}:{n}: includes {name}, internal to {os.path.dirname(target)}/')
                elif theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
                    probs.append(f'{f}:{n}: include {name} crosses layer '
                                 f'{mine[0]} {mine[1]} -> {theirs[0]} {theirs[1]}')
            if not any(fnmatch.fnmatch(f, g) for g in edge_only) and EDGE_KIND.search(line):
                probs.append(f'{f}:{n}: asks which edge is configured '
                             f'({EDGE_KIND.search(line).group(0)}): ask the edge driver')
        if f.endswith('.c'):
            for n, stmt in toplevel_statements(code):
                p = PROTO.match(stmt)
                if p and p.group(1) != 'LLVMFuzzerTestOneInput':
                    probs.append(f'{f}:{n}: declares {p.group(1)}() in a .c file (put it in a header)')
    for p in probs:
        print(p)
    print(f'layers: {len(files)} files, {len(probs)} problems', file=sys.stderr)
    return 1 if probs else 0


if __name__ == '__main__':
    sys.exit(main())
