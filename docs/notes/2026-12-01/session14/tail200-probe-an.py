import sys,glob,collections
d=sys.argv[1]
ev=[]
for f in glob.glob(d+'/origin.child*'):
    for l in open(f):
        p=l.split(); kv=dict(x.split("=",1) for x in p[2:] if "=" in x); ev.append((int(p[0]),p[1],kv))
ev.sort(key=lambda x:x[0])
t0=ev[0][0]
done=sorted((t-t0)/1000 for t,w,kv in ev if w=='done')
print("done n=%d p10 %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f"%(len(done),done[len(done)//10],done[len(done)//2],done[9*len(done)//10],done[99*len(done)//100],done[-1]))
per=collections.Counter(int((t-t0)/1000) for t,w,kv in ev if w=='chunk')
print("chunks per second:", [per[i] for i in range(int(done[-1])+1)])
ch=collections.defaultdict(list)
origin_src=collections.Counter()
for t,w,kv in ev:
    if w=='chunk':
        ch[int(kv['chunk'])].append((t-t0)/1000)
for c in sorted(ch):
    v=ch[c]; n=len(v)
    print("chunk %2d n=%d first %.1f p50 %.1f p90 %.1f last %.1f"%(c,n,v[0],v[n//2],v[9*n//10],v[-1]))
