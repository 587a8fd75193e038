import sys,collections,glob
# groups files by run: files passed as args per run
def analyse(files):
    cl={}  # (self,peer)->(hs,yields,times)
    dirs=[]
    for f in files:
        for line in open(f):
            p=line.split()
            if p[0]=='dir': dirs.append(list(map(int,p[1:])))
            else:
                cl[(p[1],p[2])]=(int(p[3]),int(p[4]),p[5] if len(p)>5 else '')
    nodes=set(a for a,b in cl)|set(b for a,b in cl)
    N=sum(d[0] for d in dirs)
    hs=sum(v[0] for v in cl.values())
    pairs=collections.defaultdict(list)
    for (a,b),v in cl.items():
        pairs[frozenset((a,b))].append(v[0])
    conn_pairs=[k for k,v in pairs.items() if sum(v)>0]
    both=[k for k,v in pairs.items() if len(v)==2 and v[0]>0 and v[1]>0]
    multi=[(a,b,v) for (a,b),v in cl.items() if v[0]>1]
    res=sum(1 for v in cl.values() for t in v[2].split(',') if t and t.split(':')[1]=='True')
    protos=collections.Counter(t.split(':')[2] for v in cl.values() for t in v[2].split(',') if t)
    print(f"N={N} clients={len(cl)} hs={hs} ({hs/N:.2f}/dev) pairs_with_conn={len(conn_pairs)} ({len(conn_pairs)/N:.2f}/dev) both_dialled_pairs={len(both)} clients_hs>1={len(multi)} extra={sum(v[0]-1 for a,b,v in multi)} resumed={res} yields={sum(v[1] for v in cl.values())} protos={dict(protos)}")
    print(" clients per node (ids known):", f"{len(cl)/N:.2f}", " with hs>0:", sum(1 for v in cl.values() if v[0]>0))
    for d in dirs: print(" dir: nodes=%d setup dials=%d (resumed %d) total=%d (resumed %d) -> crowd dials/dev=%.2f"%(d[0],d[1],d[2],d[3],d[4],(d[3]-d[1])/d[0]))
    for a,b,v in multi[:10]:
        print("  multi", a[:6],b[:6],v)
if __name__=='__main__':
    files=sorted(sys.argv[1:])
    analyse(files)
