import re,collections,sys
# usage: cls.py traces.txt ndev  (traces from go tool pprof -traces)
out=open(sys.argv[1]).read(); ndev=float(sys.argv[2])
def cat(fr):
    s='\n'.join(fr); leaf=fr[0]
    has=lambda k: k in s
    if 'gcBgMarkWorker' in s or 'gcAssist' in s or 'bgsweep' in s or 'bgscavenge' in s: return 'gc'
    if has('HandshakeContext') or has('crypto/tls.(*Conn).handshake') or has('serverHandshake') or has('clientHandshake'):
        if has('directory.'): return 'hs:directory'
        return 'hs:peer'
    if 'sha256' in leaf: return 'bound:sha256'
    if 'gcmAes' in leaf or 'aes/gcm' in leaf: return 'bound:aes'
    if 'Syscall6' in leaf or 'RawSyscall' in leaf:
        if has('Pwrite') or has('pwrite'): return 'disk:pwrite'
        if has('SyncFileRange'): return 'disk:sync_file_range'
        if has('Fsync') or has('Fdatasync') or has('.Sync'): return 'disk:fsync'
        if has('Pread') or has('readChunk'): return 'disk:pread'
        if has('crypto/tls') or has('corkConn') or has('sniffedConn') or has('netFD'): return 'bound?:socket'
        if has('go-sqlite3') or has('_cgo'): return 'sqlite'
        return 'syscall:other'
    if has('go-sqlite3') or 'cgocall' in leaf: return 'sqlite'
    if 'memclrNoHeapPointers' in leaf and has('readFromUntil'): return 'tls:inbuf-growth'
    if 'memmove' in leaf:
        if has('corkConn'): return 'memmove:cork'
        if has('bytes.(*Reader).Read'): return 'memmove:bytesreader'
        if has('encrypt'): return 'memmove:tls-encrypt'
        return 'memmove:other'
    if has('permit') or has('Whois'): return 'whois/permit'
    if has('directory.(*Client)') or has('node).suppliers') or has('Node).Announce') or has('Node).manifest'): return 'directory client'
    if has('handleHave') or has('Fetcher).poll') or has('havewait'): return 'have polls'
    if has('mallocgc') or has('growslice') or has('newobject') or 'memclr' in leaf: return 'alloc'
    if has('runtime.schedule') or has('findRunnable') or has('park_m') or has('futex') or has('usleep') or has('runtime.mcall'): return 'sched'
    if has('copystack') or has('newstack') or has('morestack'): return 'stack growth'
    if has('share/library'): return 'library other'
    if has('peer/sched'): return 'scheduler(core)'
    if has('crypto/tls'): return 'tls other'
    if has('share/peer'): return 'peer other'
    return 'other'
c=collections.Counter(); tot=0
for b in out.split('-----------+-------------------------------------------------------'):
    lines=[l.strip() for l in b.strip().split('\n') if l.strip()]
    if not lines: continue
    m=re.match(r'(\d+(?:\.\d+)?)(ms|s)\s+(.*)',lines[0])
    if not m: continue
    v=float(m.group(1))*(1000 if m.group(2)=='s' else 1)
    fr=[m.group(3)]+lines[1:]
    c[cat(fr)]+=v; tot+=v
for k,v in c.most_common(): print(f"{k:24s} {v:7.0f} ms {100*v/tot:5.1f}%  {v/ndev:6.2f} ms/dev")
print(f"total {tot:.0f} ms, {tot/ndev:.2f} ms/dev")
