package peer

import (
	"bytes"
	"context"
	"testing"

	"github.com/kith-media/kith/internal/tlswire"
)

// TestFullRecordsFromTheStart: a chunk answered on a connection's first
// 128 KB goes out in full-size TLS records both ways (the server's
// answers, and the dialling end's on a both-ways connection), not in
// records that grow a packet at a time (crypto/tls's dynamic record
// sizing, which makes the receiving end's crypto/tls reallocate its input
// buffer for each bigger record). Real peers over loopback TCP, through a
// relay that reads the records on the wire.
func TestFullRecordsFromTheStart(t *testing.T) {
	ctx := context.Background()
	const cs = 256 << 10 // the default chunk: twice the 128 KB dynamic sizing covers
	ca, cb := makeContent(t, 2*cs, cs, 41), makeContent(t, 2*cs, cs, 42)
	a := startBothEnd(t, newIdent(t), holder(t, ca), everyoneEnrolled{})
	b := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})
	relay := tlswire.StartRelay(t, a.ln.Addr().String())

	// B dials A through the relay and fetches A's chunk; A then fetches
	// B's over B's connection (both ways).
	ba, err := NewClient(b.id, a.id.ID(), []string{relay.Addr()}, ClientOptions{Server: b.srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ba.Close)
	got, err := ba.Chunk(ctx, ca.m, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ca.chunk(0)) {
		t.Fatal("B got another chunk 0 from A")
	}
	ab := a.clientOf(t, b)
	if got, err = ab.Chunk(ctx, cb.m, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, cb.chunk(0)) {
		t.Fatal("A got another chunk 0 from B")
	}
	if n := a.ln.n.Load() + b.ln.n.Load(); n != 1 {
		t.Fatalf("%d connections, want B's one through the relay", n)
	}

	for _, dir := range []struct {
		name   string
		stream []byte
	}{{"A answering B (server)", relay.Down()}, {"B answering A (dialling end)", relay.Up()}} {
		mid, full := tlswire.Records(dir.stream)
		// One chunk of 256 KiB + the seal's tag: 16 full records, and at
		// most a short last one.
		if full < cs/(16<<10) || mid > 1 {
			t.Errorf("%s: %d full-size records and %d of 1-16 KiB, want %d full and at most 1 shorter", dir.name, full, mid, cs/(16<<10))
		}
	}
}
