import sys,re,statistics as st
cur=None; d={}; loads={}
for l in open(sys.argv[1]):
    m=re.match(r'== (\S+) round (\d+) load (\S+)',l)
    if m: cur=m.group(1); ld=m.group(3); continue
    if l.startswith('Benchmark'):
        f=l.split(); cell='/'.join(f[0].split('/')[2:]).replace('-2','')
        vals={f[i+1]:float(f[i]) for i in range(2,len(f)-1,2)}
        d.setdefault((cell,cur),[]).append(vals); loads.setdefault((cell,cur),[]).append(ld)
for (cell,b),runs in sorted(d.items()):
    print(cell,b,'loads',' '.join(loads[(cell,b)]))
    for k in ['conns/dev','polls/dev','cpu_s','x_bound','x_cpu','s_all','s_one','origin_x']:
        v=[r.get(k,float('nan')) for r in runs]
        print('   %-9s %s  median %.3g'%(k,', '.join('%.3g'%x for x in v),st.median(v)))
