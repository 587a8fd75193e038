#!/usr/bin/env python3
"""Summarize BenchmarkFlashCrowd runs in lead-ab18.sh's output files: one row a run (load before it)."""
import re, sys, glob, os, statistics
keys = ['s_all', 'x_bound', 'cpu_s', 'x_cpu', 'origin_x', 'busy/dev', 'busy_lookups/dev', 'conns/dev', 'faults/dev']
for d in sys.argv[1:]:
    for f in sorted(glob.glob(os.path.join(d, '*.txt'))):
        rows, load = [], None
        for l in open(f):
            if l.startswith('== ') and not l.startswith('== end'):
                load = l.split()[2]
            m = re.match(r'Benchmark\S+', l)
            if m:
                v = {k: float(x) for x, k in re.findall(r'([\d.]+) (\S+)', l)}
                rows.append((load, v))
        print(f'{os.path.basename(f)}:')
        for load, v in rows:
            print('  load %-6s ' % load + '  '.join('%s %s' % (k, v.get(k, '-')) for k in keys))
        if len(rows) > 1:
            print('  median   ' + '  '.join('%s %.3g' % (k, statistics.median(v.get(k, 0) for _, v in rows)) for k in keys))
