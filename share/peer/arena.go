package peer

import (
	"sync"
	"unsafe"
)

// arenaSlots is how many chunk buffers the arena holds: more than a
// device has chunks in flight at once (its upload slots, MaxUploads, its
// household's uploads, and the answers its downloads read, one a
// connection); beyond, buffers come from the Go heap as before.
const arenaSlots = 64

// ArenaBytes is the most anonymous memory one process's buffer arenas map
// (the chunk buffers', the cork buffers' and the read-ahead buffers'), in
// transparent huge pages where the kernel gives them: resident only as
// far as buffers were touched. A harness that runs devices in many
// processes on one virtual machine warms this much huge-page memory a
// process before it starts their clock (share's warmHuge).
const ArenaBytes = arenaSlots * (chunkBufSize + corkSize + readAhead)

// bufArena hands out buffers of one size carved from a single anonymous
// mapping that asks the kernel for transparent huge pages (hugeMap; none
// where that is not available, and then every buffer comes from the heap).
//
// Why: a fresh 256 KiB buffer from the Go heap is 64 page faults the first
// time its pages are touched, 12–17 µs each on a virtual machine (about
// 1 ms a buffer, as much CPU as hashing it), and a download or an upload
// burst touches a fresh one for each chunk in flight at its peak; the Go
// heap never uses huge pages where the kernel gives them only on request
// (transparent_hugepage=madvise, the usual default), and sync.Pool gives
// idle buffers back to the garbage collector, whose scavenger returns
// their pages to the kernel. From the arena, 2 MiB are one fault, and a
// buffer once touched stays mapped for the next chunk: at most
// arenaSlots × size (16 MiB) stay resident, less when fewer were in use
// at once (slots are carved in order and the last one given back is the
// next one taken).
//
// A slot is in use from get to put; a put of a slot not in use (a buffer
// given back twice) is ignored, so one slot never serves two chunks at
// once. A buffer its holder gives to the garbage collector instead (a
// write the peer's reset cut short may still read it) is never taken
// again: its slot is lost, not reused under the writer.
//
// Beyond its slots, take and give use a sync.Pool of heap buffers of the
// same size (the chunk, cork and read-ahead buffers all do); get and put
// are the arena alone.
type bufArena struct {
	size int
	once sync.Once
	mu   sync.Mutex
	mem  []byte // the mapping: slots × size bytes; nil without one
	used []bool // per carved slot: given out and not back
	free []int  // slots given back, the most recent last
	heap sync.Pool
}

// take returns a buffer of len and cap a.size: the arena's while it has
// a slot free, else one from the heap pool.
func (a *bufArena) take() *[]byte {
	if b := a.get(); b != nil {
		return &b
	}
	if b, ok := a.heap.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, a.size)
	return &b
}

// give gives back a buffer from take (any length): the arena's to the
// arena, one of the heap to the pool. A buffer of another capacity (one
// its holder replaced) is left to the garbage collector, so the pool
// holds buffers of one size only.
func (a *bufArena) give(b *[]byte) {
	if b == nil || cap(*b) != a.size || a.put(*b) {
		return
	}
	*b = (*b)[:a.size]
	a.heap.Put(b)
}

func (a *bufArena) init() {
	a.mem = hugeMap(arenaSlots * a.size)
}

// get returns a buffer of len and cap a.size, or nil when the arena has
// none free (or no mapping).
func (a *bufArena) get() []byte {
	a.once.Do(a.init)
	if a.mem == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var i int
	switch {
	case len(a.free) > 0:
		i = a.free[len(a.free)-1]
		a.free = a.free[:len(a.free)-1]
	case len(a.used) < arenaSlots:
		i = len(a.used)
		a.used = append(a.used, false)
	default:
		return nil
	}
	a.used[i] = true
	return a.mem[i*a.size : (i+1)*a.size : (i+1)*a.size]
}

// put gives back a buffer whose first byte is a slot's (any length); it
// reports whether the buffer was the arena's.
func (a *bufArena) put(b []byte) bool {
	a.once.Do(a.init) // a.mem is written once, under once: read it after
	if a.mem == nil || cap(b) == 0 {
		return false
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1]))) - uintptr(unsafe.Pointer(unsafe.SliceData(a.mem)))
	if off >= uintptr(len(a.mem)) {
		return false
	}
	if off%uintptr(a.size) != 0 || cap(b) != a.size {
		return true // inside a slot but not its start: not a buffer get gave out
	}
	i := int(off / uintptr(a.size))
	a.mu.Lock()
	defer a.mu.Unlock()
	if i < len(a.used) && a.used[i] {
		a.used[i] = false
		a.free = append(a.free, i)
	}
	return true
}
