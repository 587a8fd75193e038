#!/usr/bin/env python3
# stall analysis of one probe run: per node start, done, chunks, biggest gap between stored chunks; origin decisions over time
import sys, glob, re, collections
d = sys.argv[1]
ev = []
for f in glob.glob(d + "/probe.child*"):
    for line in open(f):
        p = line.split()
        ev.append((int(p[0]), p[1], line.strip()))
orig = []
for f in glob.glob(d + "/probe.[0-9]*"):
    for line in open(f):
        p = line.split()
        orig.append((int(p[0]), p[1], line.strip()))
t0 = min(e[0] for e in ev if e[1] == "step")
nodes = collections.defaultdict(lambda: {"chunks": [], "start": None, "done": None, "src": collections.Counter()})
for t, k, l in sorted(ev):
    m = re.search(r"node=(\S+)", l); n = nodes[m.group(1)]
    if k == "step" and l.endswith(" start"): n["start"] = t - t0
    if k == "done": n["done"] = t - t0
    if k == "chunk":
        n["chunks"].append(t - t0); n["src"][re.search(r"src=(\S*)", l).group(1)] += 1
for id, n in sorted(nodes.items(), key=lambda x: x[1]["start"] or 0):
    c = n["chunks"]; gaps = sorted(((b - a, a) for a, b in zip(c, c[1:])), reverse=True)[:2]
    print(f"{id} start {n['start']} first {c[0] if c else None} done {n['done']} chunks {len(c)} gaps {gaps} srcs {dict(n['src'])}")
cnt = collections.Counter()
for t, k, l in orig:
    cnt[(k, (t - t0) // 1000)] += 1
print("origin per second:", sorted(cnt.items(), key=lambda x: (x[0][1], x[0][0])))
# per chunk: when it first entered the crowd and from whom
first = {}
for t, k, l in sorted(ev):
    if k != "chunk": continue
    c = int(re.search(r"chunk=(\d+)", l).group(1))
    if c not in first: first[c] = (t - t0, re.search(r"src=(\S*)", l).group(1), re.search(r"node=(\S+)", l).group(1))
late = sorted(first.items(), key=lambda x: -x[1][0])[:6]
print("latest chunks to enter the crowd (chunk, ms, src, node):", late)
