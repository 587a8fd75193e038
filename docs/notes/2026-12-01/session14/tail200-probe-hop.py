import glob,collections,sys
d=sys.argv[1]
ev=[]
for f in glob.glob(d+'/origin.child*'):
    for l in open(f):
        p=l.split(); kv=dict(x.split("=",1) for x in p[2:] if "=" in x); ev.append((int(p[0]),p[1],kv))
ev.sort(key=lambda x:x[0]); t0=ev[0][0]
got={}
hops=collections.defaultdict(list); srcs=collections.Counter()
for t,w,kv in ev:
    if w!='chunk': continue
    s=(t-t0)/1000; c=kv['chunk']; got[(kv['node'],c)]=s
    if (kv['src'],c) in got:
        hops[int(s)].append(s-got[(kv['src'],c)])
    else: srcs['origin-or-unknown']+=1
for sec in sorted(hops):
    v=sorted(hops[sec]); n=len(v)
    print("t=%2d n=%4d hop p10 %.2f p50 %.2f p90 %.2f"%(sec,n,v[n//10],v[n//2],v[9*n//10]))
print(srcs)
