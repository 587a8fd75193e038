import sys,re,statistics as st
d={}
for l in open(sys.argv[1]):
    m=re.match(r'g\d+ (\S+) (.*?)\s+n=(\d+)\s+first=\s*(-?[\d.]+)ms last=\s*(-?[\d.]+)ms',l)
    if not m: continue
    who,what,n,f,la=m.groups(); what=re.sub(r'/[0-9a-f]{64}|/[A-Z0-9-]{40,}','',what)
    d.setdefault(who,{})[what]=(int(n),float(f),float(la))
def first(e,prefix):
    v=[x[1] for k,x in e.items() if k.startswith(prefix)]
    return min(v) if v else float('nan')
cols=[('manifest',lambda e:e['dir done GET /v1/manifests'][1]-e['fetch start'][1]),
('store',lambda e:e['manifest1 stored'][1]-e['dir done GET /v1/manifests'][1]),
('ann+sup',lambda e:e['suppliers done'][1]-e['manifest1 stored'][1]),
('to_run',lambda e:e['fetcher run'][1]-e['fetch start'][1]),
('1st_hs',lambda e:e['peer handshake'][1]-e['fetcher run'][1]),
('1st_chunk',lambda e:min(e.get('chunk got origin=false err=false',(0,1e9))[1],e.get('chunk got origin=true err=false',(0,1e9))[1])-e['fetch start'][1]),
('last_chunk',lambda e:e['all chunks'][1]-e['fetch start'][1]),
('after_last',lambda e:e['fetch returned'][1]-e['all chunks'][1]),
('total',lambda e:e['fetch returned'][1]-e['fetch start'][1]),
('whois',lambda e:sum(v[0] for k,v in e.items() if k.startswith('dir GET /v1/devices'))),
]
print('%-8s'%'node'+''.join('%11s'%c for c,_ in cols))
vals={c:[] for c,_ in cols}
for who,e in sorted(d.items()):
    if 'fetch start' not in e: continue
    row=[]
    for c,f in cols:
        try: v=f(e)
        except KeyError: v=float('nan')
        vals[c].append(v); row.append(v)
    print('%-8s'%who+''.join('%11.1f'%v for v in row))
print('%-8s'%'median'+''.join('%11.1f'%st.median(vals[c]) for c,_ in cols))
