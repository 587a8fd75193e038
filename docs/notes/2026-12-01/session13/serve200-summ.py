import re,sys
tag=None
for line in open(sys.argv[1]):
    if line.startswith('=='):
        tag=line.split()[1]; tm=line.split()[2]; load=line.split('load')[1].split()[0]
    elif line.startswith('Benchmark'):
        f=line.split()
        m={}
        for i in range(2,len(f)-1,2):
            try: m[f[i+1]]=float(f[i])
            except: pass
        print(f"{tag:60s} {tm} load {load:>6s} cpu_s {m.get('cpu_s',0):6.2f} s_all {m.get('s_all',0):6.2f} x_cpu {m.get('x_cpu',0):5.2f} x_bound {m.get('x_bound',0):5.2f} polls/dev {m.get('polls/dev',0):5.1f} conns/dev {m.get('conns/dev',0):5.2f} origin {m.get('origin_x',0):.3f}")
