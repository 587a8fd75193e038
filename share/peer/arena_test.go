package peer

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// TestBufArena: slots are given out once each until given back, the last
// given back is the next taken, a buffer given back twice is not given out
// twice, and buffers that are not the arena's are left alone.
func TestBufArena(t *testing.T) {
	a := &bufArena{size: 4096}
	first := a.get()
	if first == nil {
		t.Skip("no arena on this system (hugeMap)")
	}
	bufs := [][]byte{first}
	for range arenaSlots - 1 {
		b := a.get()
		if b == nil {
			t.Fatalf("arena empty after %d of %d slots", len(bufs), arenaSlots)
		}
		if len(b) != 4096 || cap(b) != 4096 {
			t.Fatalf("slot of len %d cap %d, want 4096", len(b), cap(b))
		}
		bufs = append(bufs, b)
	}
	if b := a.get(); b != nil {
		t.Fatal("a slot beyond the arena's")
	}
	seen := map[*byte]bool{}
	for _, b := range bufs {
		if seen[&b[0]] {
			t.Fatal("one slot given out twice")
		}
		seen[&b[0]] = true
	}
	if a.put(make([]byte, 4096)) {
		t.Error("a heap buffer taken as the arena's")
	}
	if !a.put(bufs[3][:10]) || !a.put(bufs[3]) { // given back twice
		t.Fatal("the arena's buffer not taken back")
	}
	if !a.put(bufs[7]) {
		t.Fatal("the arena's buffer not taken back")
	}
	if b := a.get(); &b[0] != &bufs[7][0] {
		t.Error("the last buffer given back is not the next taken")
	}
	if b := a.get(); &b[0] != &bufs[3][0] {
		t.Error("a buffer given back is not taken again")
	}
	if b := a.get(); b != nil {
		t.Error("a buffer given back twice was given out twice")
	}
	if !a.put(bufs[5][100:]) { // inside a slot, not its start: ignored
		t.Fatal("a piece of the arena's buffer not recognised")
	}
	if b := a.get(); b != nil {
		t.Error("a piece of a buffer gave its slot back")
	}

	// take and give, with every slot given out: buffers of the heap pool,
	// of the arena's size; a slot given back is taken first again; a
	// buffer of another capacity is not pooled.
	h := a.take()
	if len(*h) != 4096 || cap(*h) != 4096 || a.put(*h) {
		t.Fatalf("take beyond the slots: len %d cap %d, the arena's %v", len(*h), cap(*h), a.put(*h))
	}
	*h = (*h)[:0]
	a.give(h)
	if len(*h) != 4096 {
		t.Errorf("a heap buffer pooled at len %d, not its size", len(*h))
	}
	a.give(&bufs[9])
	if b := a.take(); &(*b)[0] != &bufs[9][0] {
		t.Error("a slot given back was not taken before the heap pool")
	}
	odd := make([]byte, 100, 5000)
	a.give(&odd)
	for range 4 {
		if b := a.take(); cap(*b) != 4096 {
			t.Fatalf("take returned a buffer of cap %d", cap(*b))
		}
	}
}

// TestChunkBuffersBackToArena: over real TLS (the chunk wire), a peer
// serving chunks and a client reading them use the arena's buffers and
// give every one back, the answers' cork buffers too, so the next chunks
// reuse pages already touched.
func TestChunkBuffersBackToArena(t *testing.T) {
	c := makeContent(t, 4*sealed.DefaultChunkSize, sealed.DefaultChunkSize, 23)
	a, me := newIdent(t), newIdent(t)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	cl := client(t, me, a.ID(), addr)
	ctx := context.Background()
	if _, err := cl.Have(ctx, c.m.ContentID(), c.m.NumChunks()); err != nil { // the connection
		t.Fatal(err)
	}
	inUse := func() int {
		chunkArena.mu.Lock()
		defer chunkArena.mu.Unlock()
		return len(chunkArena.used) - len(chunkArena.free)
	}
	corks := func() int {
		corkArena.mu.Lock()
		defer corkArena.mu.Unlock()
		return len(corkArena.used) - len(corkArena.free)
	}
	first := chunkArena.get() // also maps the arena
	if first == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("no chunk-buffer arena on Linux")
		}
		t.Skip("no arena on this system (hugeMap)")
	}
	before := inUse() - 1 // other tests' buffers
	chunkArena.put(first)
	chunkArena.put(first) // twice: no effect
	for i := range 2 * c.m.NumChunks() {
		b, err := cl.Chunk(ctx, c.m, i%c.m.NumChunks(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.m.VerifyChunk(i%c.m.NumChunks(), b); err != nil {
			t.Fatal(err)
		}
		if !chunkArena.put(b) {
			t.Fatalf("chunk %d read into a buffer not the arena's", i)
		}
		// The server gives its buffers back once its answer is out,
		// which may be after we have read it: wait for them.
		if !eventually(func() bool { return inUse() == before }) {
			t.Fatalf("after chunk %d, %d arena buffers in use, want %d (the server's not given back)", i, inUse(), before)
		}
		if !eventually(func() bool { return corks() == 0 }) {
			t.Fatalf("after chunk %d, %d cork buffers in use, want none", i, corks())
		}
	}
}

// eventually reports whether cond holds within 10 s (polled).
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// inUse is how many of the arena's slots are given out now.
func (a *bufArena) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used) - len(a.free)
}
