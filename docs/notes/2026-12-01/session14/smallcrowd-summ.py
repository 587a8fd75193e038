import re,sys,collections
d=collections.defaultdict(lambda: collections.defaultdict(list))
for l in open(sys.argv[1]):
    m=re.match(r'(r\d+) (\S+) load=\[([\d. ]+)\] Benchmark(\S+)-2\s+\d+\s+\d+ ns/op(.*)',l)
    if not m: continue
    r,b,load,cell,rest=m.groups()
    mets=dict((k,float(v)) for v,k in re.findall(r'([\d.e+-]+) (\S+)',rest))
    d[cell][b].append((r,load.split()[0],mets))
for cell in d:
    print(cell)
    for b in sorted(d[cell]):
        rs=d[cell][b]
        def col(k): return [x[2].get(k) for x in rs]
        med=lambda v: sorted(v)[len(v)//2] if v else None
        print(f"  {b:10s} load {','.join(x[1] for x in rs)}")
        for k in ['cpu_s','x_cpu','x_bound','s_all','conns/dev','polls/dev','origin_x']:
            v=col(k); print(f"     {k:9s} {', '.join('%.3g'%x for x in v)}  med {med(v):.3g}")
