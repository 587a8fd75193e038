package peer

import (
	"sync"

	"github.com/kith-media/kith/share/sealed"
)

// chunkBufSize is the capacity of a pooled chunk buffer: a default-sized
// sealed chunk with its AEAD overhead, plus the byte readExact reads past
// the end to catch a longer body, with room to spare.
const chunkBufSize = sealed.DefaultChunkSize + 64

// chunkBufs holds the buffers chunk bodies pass through, shared by every
// fetcher and server of the process: a chunk read from a peer is written to
// the library and its buffer reused at once, and a chunk read from the
// library to answer a peer likewise. Before, each fetcher had its own pool
// (a download of N chunks with k in flight allocated k buffers of its own,
// a crowd of downloads in one process k each), and a quarter of the bytes a
// flash-crowd process allocated were those buffers (allocs profile of
// 8 MiB N=50), each allocation a step towards the next GC cycle.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkBufSize); return &b }}

// chunkArena holds the first chunk buffers the process uses at once, in
// huge pages (see bufArena); chunkBufs those beyond.
var chunkArena = bufArena{size: chunkBufSize}

// getChunkBuf returns a buffer for a chunk of n bytes (and one more):
// from the arena or else the pool when n fits their buffers, else a new
// one.
func getChunkBuf(n int64) *[]byte {
	if n+1 > chunkBufSize {
		b := make([]byte, n+1)
		return &b
	}
	if b := chunkArena.get(); b != nil {
		return &b
	}
	return chunkBufs.Get().(*[]byte)
}

// bodyBuf is the buffer a chunk body of n bytes (and the one more byte
// that catches a longer body) is read into: dst when it holds them; for a
// nil dst, a buffer of the pool when n fits its buffers, taken only now,
// once the answer has come (pooled); else a new one. A fetcher passes nil
// so that a request waiting for its answer holds no buffer: before, each of
// the 40-50 requests a node keeps in flight in a crowd held one from its
// launch, over a thousand per crowd process at 64 MiB N=50, and the chunk
// being read went into whichever had waited longest, long out of the
// caches (the copy of TLS's plaintext into it, its hash and its write to
// the file each read or wrote cold memory). Taken at the answer, a buffer
// comes back to the pool right after its chunk is stored, and the next
// answer reuses it while it is still in the cache.
func bodyBuf(dst []byte, n int64) (b []byte, pooled bool) {
	switch {
	case int64(cap(dst)) >= n+1:
		return dst[:n+1], false
	case dst == nil && n+1 <= chunkBufSize:
		return (*getChunkBuf(n))[:n+1], true
	}
	return make([]byte, n+1), false
}

// putChunkBuf gives a buffer from getChunkBuf back: the arena's to the
// arena. Buffers of another capacity (a larger chunk's, or one a reader
// replaced) are left to the garbage collector, so the pool only ever
// holds buffers of one size.
func putChunkBuf(b *[]byte) {
	if b == nil || cap(*b) != chunkBufSize || chunkArena.put(*b) {
		return
	}
	*b = (*b)[:chunkBufSize]
	chunkBufs.Put(b)
}
