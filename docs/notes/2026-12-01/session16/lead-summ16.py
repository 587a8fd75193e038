#!/usr/bin/env python3
# Summarise measure12 output: per cell and binary, x_bound / x_cpu / cpu_s / origin_x lists and medians.
import re, sys, glob, statistics, collections
d = sys.argv[1] if len(sys.argv) > 1 else "/work/notes/out/m14/q"
cells = collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(glob.glob(d + "/*-q*.txt")):
    tag = f.rsplit("-", 1)[1][:-4]
    for line in open(f):
        m = re.match(r"BenchmarkFlashCrowd/(\S+)-\d+\s", line)
        if not m: continue
        mets = dict((k, float(v)) for v, k in re.findall(r"([0-9.e+-]+) (\S+)", line[m.end():]))
        for k in ("x_bound", "x_cpu", "cpu_s", "origin_x", "s_all", "conns/dev"):
            cells[m.group(1)][(tag, k)].append(mets.get(k))
for c in sorted(cells):
    row = [c]
    for tag in ("q0", "q"):
        xs = cells[c][(tag, "x_bound")]
        if not xs: continue
        row.append(f"{tag}: x_bound {' '.join(f'{x:.2f}' for x in xs)} (med {statistics.median(xs):.2f}); x_cpu med {statistics.median(cells[c][(tag,'x_cpu')]):.2f}; cpu_s med {statistics.median(cells[c][(tag,'cpu_s')]):.2f}; origin {' '.join(f'{x:.3f}' for x in cells[c][(tag,'origin_x')])}")
    print(" | ".join(row))
