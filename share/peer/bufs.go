package peer

import "github.com/kith-media/kith/share/sealed"

// chunkBufSize is the capacity of a pooled chunk buffer: a default-sized
// sealed chunk with its AEAD overhead, plus the byte readExact reads past
// the end to catch a longer body, with room to spare.
const chunkBufSize = sealed.DefaultChunkSize + 64

// chunkArena holds the buffers chunk bodies pass through, shared by every
// fetcher and server of the process: a chunk read from a peer is written to
// the library and its buffer reused at once, and a chunk read from the
// library to answer a peer likewise. Before, each fetcher had its own pool
// (a download of N chunks with k in flight allocated k buffers of its own,
// a crowd of downloads in one process k each), and a quarter of the bytes a
// flash-crowd process allocated were those buffers (allocs profile of
// 8 MiB N=50), each allocation a step towards the next GC cycle. The
// first ones the process uses at once are in huge pages (see bufArena),
// those beyond from its heap pool.
var chunkArena = bufArena{size: chunkBufSize}

// getChunkBuf returns a buffer for a chunk of n bytes (and one more):
// from the arena or else the pool when n fits their buffers, else a new
// one.
func getChunkBuf(n int64) *[]byte {
	if n+1 > chunkBufSize {
		b := make([]byte, n+1)
		return &b
	}
	return chunkArena.take()
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

// putChunkBuf gives a buffer from getChunkBuf back (bufArena.give: a
// larger chunk's is left to the garbage collector).
func putChunkBuf(b *[]byte) { chunkArena.give(b) }
