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

// getChunkBuf returns a buffer for a chunk of n bytes (and one more):
// from the pool when n fits its buffers, else a new one.
func getChunkBuf(n int64) *[]byte {
	if n+1 > chunkBufSize {
		b := make([]byte, n+1)
		return &b
	}
	return chunkBufs.Get().(*[]byte)
}

// putChunkBuf gives a buffer from getChunkBuf back. Buffers of another
// capacity (a larger chunk's, or one a reader replaced) are left to the
// garbage collector, so the pool only ever holds buffers of one size.
func putChunkBuf(b *[]byte) {
	if b == nil || cap(*b) != chunkBufSize {
		return
	}
	*b = (*b)[:chunkBufSize]
	chunkBufs.Put(b)
}
