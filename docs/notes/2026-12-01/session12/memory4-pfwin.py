import sys, collections, re
rules = [
 ("argon2", ["argon2"]),
 ("tls-input(readFromUntil)", ["readFromUntil"]),
 ("tls-handshake", ["handshakeContext","clientHandshake","serverHandshake"]),
 ("client chunk buf (wireBody.Read/readExact)", ["wireBody).Read","peer.readExact"]),
 ("server chunk buf (ReadChunk)", ["ReadChunk"]),
 ("wire write", ["wireServerConn).write","wireWriter"]),
 ("stacks", ["newstack","copystack","morestack","stackalloc","malg"]),
 ("gc", ["gcBgMarkWorker","gcDrain","gcAssist","bgsweep","sweepone"]),
 ("sqlite/cgo", ["sqlite","cgocall","asmcgocall"]),
 ("http2", ["http2"]),
 ("loader/exec", ["_dl_","execve","elf_load","load_elf"]),
 ("heap growth (mallocgc)", ["mallocgc","mcentral","mheap"]),
]
win={}
for l in open(sys.argv[2]):
    d=dict(kv.split("=") for kv in l.split())
    win[d["pid"]]=(int(d["mono0"])/1e9,int(d["mono1"])/1e9)
cats=collections.Counter(); others=collections.Counter(); topfn=collections.Counter()
def flush(pid,t,stack):
    if pid not in win or not (win[pid][0]<=t<=win[pid][1]): return
    s="\n".join(stack); c="other"
    for name,keys in rules:
        if any(k in s for k in keys): c=name; break
    cats[c]+=1
    if c=="other": others[" < ".join(x.split(None,1)[1] for x in stack[:4])]+=1
    # first kith/net frame
    for x in stack:
        if "kith" in x or "net/http" in x or "crypto/tls" in x:
            topfn[c+" @ "+x.split(None,1)[1]]+=1; break
pid=None; t=0; stack=[]
for line in open(sys.argv[1]):
    if line.strip() and not line[0].isspace():
        flush(pid,t,stack); stack=[]
        m=re.match(r"\S+\s+(\d+)\s+([\d.]+):",line); pid=m.group(1); t=float(m.group(2))
    elif line.strip(): stack.append(line.strip())
flush(pid,t,stack)
print("window faults, all children:", sum(cats.values()))
for k,v in cats.most_common(): print(f"  {v:6d} {k}")
print("top 'other':")
for k,v in others.most_common(15): print(f"  {v:6d} {k}")
print("first kith/net frame per category:")
for k,v in topfn.most_common(30): print(f"  {v:6d} {k}")
