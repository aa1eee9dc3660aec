#!/usr/bin/env python3
"""switch-phases.py WORKDIR...: split the strace'd switches and rollbacks
of test/bench/switch-phases.sh (PHASES_STRACE=1) into stages and print the
median of each stage over the repetitions, in ms. The stages are cut at
syscalls every run makes: the binary's execve, the open of global.conf, the
connect to the Docker or control socket, the "observed:" trace line, the
journal's converge.log lines (apply started, each step's start, the end),
and exit_group. With a daemon (a trace file named daemon), the daemon's
lines inside the command's window are merged in."""
import os
import re
import statistics
import sys

LINE = re.compile(r'^(\d+)\s+(\d+\.\d+)\s+(.*)$')


def events(path, t_lo=None, t_hi=None, daemon=False):
    out = []
    for raw in open(path, errors='replace'):
        m = LINE.match(raw)
        if not m:
            continue
        ts, call = float(m.group(2)), m.group(3)
        if t_lo is not None and not (t_lo <= ts <= t_hi):
            continue
        lab = None
        if re.match(r'execve\("[^"]*/bluegreen[^"/]*"', call):
            lab = 'process start, dynamic loading, constructors'
        elif call.startswith('openat(') and '/global.conf"' in call and 'O_RDONLY' in call:
            lab = 'config load' if t_lo is None else 'daemon: config reload, observe (no container list)'
        elif call.startswith('connect(') and 'docker.sock' in call:
            lab = 'observe (Docker)'
        elif call.startswith('connect(') and 'control.sock' in call:
            lab = ('hand-off: connect, request journaled (1 commit)' if daemon else
                   'hand-off attempt, lock, history, Docker client')
        elif 'observed: ' in call and call.startswith('write(2'):
            lab = 'plan, token, journal the start'
        elif call.startswith('write(') and 'Z apply ' in call and '...\\n"' in call:
            m2 = re.search(r'\[\d+/\d+\] (\w+) (\w+)', call)
            if m2:
                lab = 'step: %s %s' % (m2.group(1), m2.group(2))
        elif call.startswith('write(') and 'Z applied ' in call:
            lab = 'end: journal, release, exit'
        elif call.startswith('exit_group(') and t_lo is None:
            lab = '(exit)'
        if lab and not (out and out[-1][1] == lab):
            out.append((ts, lab))
    return out


def split(ev):
    d = {}
    for (t0, lab), (t1, _) in zip(ev, ev[1:]):
        d[lab] = d.get(lab, 0) + (t1 - t0) * 1000
    if ev:
        d['total (execve to exit)'] = (ev[-1][0] - ev[0][0]) * 1000
        d['total (execve to the new version installed)'] = sum(
            (t1 - t0) * 1000 for (t0, lab), (t1, _) in zip(ev, ev[1:])
            if not lab.startswith('end'))
    return d


def main():
    per = {}
    order = []
    for wd in sys.argv[1:]:
        tdir = os.path.join(wd, 'trace')
        daemon = os.path.join(tdir, 'daemon')
        for f in sorted(os.listdir(tdir)):
            if f == 'daemon':
                continue
            kind = f.split('.')[0]
            ev = events(os.path.join(tdir, f), daemon=os.path.exists(daemon))
            if os.path.exists(daemon) and ev:
                dev = events(daemon, ev[0][0], ev[-1][0])
                # the daemon's own lines replace the client's echo of them
                cli = [e for e in ev if not e[1].startswith('step') and
                       not e[1].startswith('end') and not e[1].startswith('plan')]
                ev = sorted(cli + [e for e in dev], key=lambda e: e[0])
                # the client prints after the daemon: keep the exit last
            for lab, ms in split(ev).items():
                key = (kind, lab)
                if key not in per:
                    per[key] = []
                    order.append(key)
                per[key].append(ms)
    for kind in ('switch', 'switch-vs', 'rollback', 'rollback-vs'):
        if not any(k[0] == kind for k in order):
            continue
        print('%s (median of n, min-max, ms)' % kind)
        for key in order:
            if key[0] != kind or key[1] == '(exit)':
                continue
            v = per[key]
            print('  %-48s %7.1f  (%.1f-%.1f, n=%d)' % (key[1], statistics.median(v), min(v), max(v), len(v)))


main()
