import sys,collections
for f in sys.argv[1:]:
    pass
files=sys.argv[1:]
cl={};starts={};res=[];aw=[];ann={}
for f in files:
    for line in open(f):
        p=line.split()
        if p[0]=='cl': cl[(p[1][:7],p[2][:7])]=int(p[3])
        elif p[0]=='start':
            kv=dict(x.split('=',1) for x in p[2:])
            starts[p[1][:7]]=(int(kv['dl']),[x[:7] for x in kv['dls'].split(',') if x],[x[:7] for x in kv['pairs'].split(',') if x],int(kv['t']))
        elif p[0]=='resupply': res.append((p[1][:7],p[2][:7],p[3],'matched=true' in line))
        elif p[0]=='awaited': aw.append((p[1][:7],p[2][:7],p[3]))
        elif p[0]=='ann': ann[p[1][:7]]=int(p[2].split('=')[1])
N=len(starts)
hs=sum(cl.values())
print(f"N={N} hs={hs} {hs/N:.2f}/dev views(first,start)={sorted((ann.get(d,-1),v[0]) for d,v in starts.items())}")
# classify dials
dialed=collections.Counter()
for (a,b),h in cl.items():
    if h==0: continue
    src='?'
    if b in starts[a][2]:
        src='start-pair' if a<b else 'late-pair(after yield)'
    elif any(r[0]==a and r[1]==b for r in res):
        r=[r for r in res if r[0]==a and r[1]==b][0]; src='resupply-'+r[2]+('-matched' if r[3] else '')
    else: src='start-nonpair'
    mutual = a in starts.get(b,(0,[],[]))[2] or any(r[0]==b and r[1]==a and r[3] for r in res)
    dialed[(src,'mutual' if mutual else 'oneway')]+=h
for k,v in sorted(dialed.items()): print(" ",k,v)
