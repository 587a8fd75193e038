#!/usr/bin/env python3
"""Summarize BenchmarkFlashCrowd runs (lead-measure19.sh's output): per cell, every run's x_bound and the medians."""
import re, sys, glob, os, statistics
keys = ['x_bound', 's_all', 's_bound', 'cpu_s', 'x_cpu', 'origin_x', 'conns/dev', 'polls/dev', 'faults/dev', 'busy/dev']
cells = {}
for d in sys.argv[1:]:
    for f in sorted(glob.glob(os.path.join(d, '*.txt'))):
        load = None
        for l in open(f):
            if l.startswith('== ') and not l.startswith('== end'):
                load = float(l.split()[2])
            m = re.match(r'Benchmark(FlashCrowd/\S+)-\d+\s', l)
            if m:
                v = {k: float(x) for x, k in re.findall(r'([\d.]+) (\S+)', l)}
                v['load'] = load
                cells.setdefault(m.group(1), []).append(v)
print('| cell | runs | x_bound (each run) | median x_bound | s_all | s_bound | cpu_s | x_cpu | origin ÷ size | conns/dev | polls/dev | faults/dev |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for c, rows in cells.items():
    med = lambda k: statistics.median(r.get(k, 0) for r in rows)
    each = ' '.join('%.2f' % r['x_bound'] for r in rows)
    origins = '/'.join(sorted({'%.3f' % r['origin_x'] for r in rows}))
    print(f"| {c.replace('FlashCrowd/', '')} | {len(rows)} | {each} | **{med('x_bound'):.2f}** | {med('s_all'):.2f} | {med('s_bound'):.2f} | {med('cpu_s'):.2f} | {med('x_cpu'):.2f} | {origins} | {med('conns/dev'):.2f} | {med('polls/dev'):.1f} | {med('faults/dev'):.0f} |")
