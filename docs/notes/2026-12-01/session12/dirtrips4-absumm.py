import sys,re,statistics as st
cur=None; d={}
for l in open(sys.argv[1]):
    m=re.match(r'== (\S+) round',l)
    if m: cur=m.group(1); continue
    if l.startswith('Benchmark'):
        f=l.split(); cell=f[0].split('/')[2]
        vals={f[i+1]:float(f[i]) for i in range(4,len(f)-1,2)}
        d.setdefault((cell,cur),[]).append(vals)
for (cell,b),runs in sorted(d.items()):
    for k in ['cpu_s','x_bound','s_all','x_cpu','conns/dev','s_one','polls/dev']:
        v=[r[k] for r in runs]
        print('%-5s %-10s %-9s %s  median %.3g'%(cell,b,k,', '.join('%.3g'%x for x in v),st.median(v)))
