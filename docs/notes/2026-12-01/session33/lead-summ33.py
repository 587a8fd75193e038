#!/usr/bin/env python3
"""Summarize BenchmarkFlashCrowd runs (session21/lead-measure21.sh's output), as session19/lead-summ19.py does,
with the disk's term beside the bound (session 33: ns/B_store, x_bound_store). Usage: lead-summ33.py OUTDIR..."""
import re, sys, glob, os, statistics
cells = {}
for d in sys.argv[1:]:
    for f in sorted(glob.glob(os.path.join(d, '*.txt'))):
        for l in open(f):
            m = re.match(r'Benchmark(FlashCrowd/\S+)-\d+\s', l)
            if m:
                cells.setdefault(m.group(1), []).append({k: float(x) for x, k in re.findall(r'([\d.]+) (\S+)', l)})
print('| cell | runs | x_bound (each run) | median x_bound | x_bound_store (each run) | median x_bound_store '
      '| s_all | s_bound | ns/B_bound | ns/B_store | cpu_s | x_cpu | origin ÷ size | conns/dev |')
print('| --- ' * 14 + '|')
for c, rows in cells.items():
    med = lambda k: statistics.median(r.get(k, 0) for r in rows)
    each = lambda k: ' '.join('%.2f' % r.get(k, 0) for r in rows)
    origins = '/'.join(sorted({'%.3f' % r['origin_x'] for r in rows}))
    print(f"| {c.replace('FlashCrowd/', '')} | {len(rows)} | {each('x_bound')} | **{med('x_bound'):.2f}** "
          f"| {each('x_bound_store')} | **{med('x_bound_store'):.2f}** | {med('s_all'):.2f} | {med('s_bound'):.2f} "
          f"| {med('ns/B_bound'):.3f} | {med('ns/B_store'):.3f} | {med('cpu_s'):.2f} | {med('x_cpu'):.2f} | {origins} "
          f"| {med('conns/dev'):.2f} |")
