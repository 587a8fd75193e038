import sys, subprocess, collections, re
# usage: classify.py binary prof...
binary=sys.argv[1]; profs=sys.argv[2:]
out=subprocess.run(['go','tool','pprof','-traces',binary]+profs,capture_output=True,text=True).stdout
rules=[
 ('hs:dir-client', ['HandshakeContext','directory.(*connTransport)']),
 ('hs:peer-client', ['HandshakeContext','peer.(*Client).dial']),
 ('hs:server', ['HandshakeContext']),
 ('hs:other', ['crypto/tls.(*Conn).handshake']),
 ('gc', ['gcBgMarkWorker']),
 ('gc', ['runtime.gcAssist']),
 ('lib:AddManifest', ['library.(*Library).AddManifest']),
 ('lib:WriteChunk', ['library.(*Library).WriteChunk']),
 ('lib:Ledger', ['library.(*Library).Ledger']),
 ('lib:Record', ['library.(*Library).Record']),
 ('srv:permit(whois)', ['peer.(*Server).permit']),
 ('srv:have', ['peer.(*Server).handleHave']),
 ('srv:chunk', ['peer.(*Server).handleChunk']),
 ('lib:other', ['share/library.']),
 ('node:Announce', ['share.(*Node).Announce']),
 ('node:suppliers', ['share.(*Node).suppliers']),
 ('node:manifest', ['share.(*Node).manifest']),
 ('dirclient', ['directory.(*Client)']),
 ('fetcher:poll', ['peer.(*Fetcher).poll']),
 ('fetcher', ['peer.(*Fetcher)']),
 ('wire', ['peer.(*wire']),
 ('peer:other', ['share/peer.']),
 ('http', ['net/http.']),
 ('sched', ['runtime.schedule','runtime.findRunnable','runtime.mcall','runtime.park_m']),
 ('tls-io', ['crypto/tls.']),
]
def samples():
    """Each pprof trace block: its value in ms, its frames and its category (first matching rule)."""
    for b in out.split('-----------+-------------------------------------------------------'):
        lines=[l for l in b.strip().split('\n') if l.strip()]
        if not lines: continue
        m=re.match(r'\s*(\d+(?:\.\d+)?)(ms|s|us)\s+(.*)',lines[0])
        if not m: continue
        v=float(m.group(1))*{'ms':1,'s':1000,'us':0.001}[m.group(2)]
        frames=[m.group(3)]+[l.strip() for l in lines[1:]]
        st='\n'.join(frames)
        c='other'
        for name,keys in rules:
            if all(any(k in f for f in frames) for k in keys) if len(keys)>1 and name.startswith('hs') else any(k in st for k in keys):
                c=name;break
        yield v, frames, c
cats=collections.Counter(); total=0
for v, frames, c in samples():
    cats[c]+=v; total+=v
for c,v in cats.most_common():
    print(f'{c:22s} {v:8.0f}ms {100*v/total:5.1f}%')
print('total',total)
import os
if os.environ.get('SHOW'):
    want=os.environ['SHOW']; agg=collections.Counter()
    for v, frames, c in samples():
        if c==want:
            # root-most 3 frames of ours
            key=' < '.join([f for f in frames if 'kith' in f][:2]) or frames[-1]
            agg[key]+=v
    for k,v in agg.most_common(25): print(f'{v:6.0f} {k[:200]}')
