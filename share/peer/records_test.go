package peer

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
)

// recordingRelay is a loopback TCP relay to target that keeps every byte
// it passes each way, to read the TLS records two real peers exchange.
type recordingRelay struct {
	ln       net.Listener
	mu       sync.Mutex
	up, down bytes.Buffer // dialler → target, target → dialler
}

func startRecordingRelay(t *testing.T, target string) *recordingRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingRelay{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pipe := func(dst, src net.Conn, keep *bytes.Buffer) {
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						r.mu.Lock()
						keep.Write(buf[:n])
						r.mu.Unlock()
						if _, werr := dst.Write(buf[:n]); werr != nil {
							err = werr
						}
					}
					if err != nil {
						dst.Close()
						src.Close()
						return
					}
				}
			}
			wg.Go(func() { pipe(s, c, &r.up) })
			wg.Go(func() { pipe(c, s, &r.down) })
		}
	})
	return r
}

// midRecords is how many TLS application-data records in stream carry
// between 1 KiB and less than a full record's 16 KiB of plaintext, and
// how many carry a full record's.
func midRecords(t *testing.T, stream []byte) (mid, full int) {
	t.Helper()
	for len(stream) >= 5 {
		typ, n := stream[0], int(stream[3])<<8|int(stream[4])
		if len(stream) < 5+n {
			break
		}
		stream = stream[5+n:]
		if typ != 23 { // handshake, change cipher spec
			continue
		}
		// TLS 1.3 AEAD records: plaintext, one byte of inner type, 16 of tag.
		switch plain := n - 17; {
		case plain >= 16<<10:
			full++
		case plain >= 1<<10:
			mid++
		}
	}
	return mid, full
}

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
	relay := startRecordingRelay(t, a.ln.Addr().String())

	// B dials A through the relay and fetches A's chunk; A then fetches
	// B's over B's connection (both ways).
	ba, err := NewClient(b.id, a.id.ID(), []string{relay.ln.Addr().String()}, ClientOptions{Server: b.srv})
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

	relay.mu.Lock()
	defer relay.mu.Unlock()
	for _, dir := range []struct {
		name   string
		stream []byte
	}{{"A answering B (server)", relay.down.Bytes()}, {"B answering A (dialling end)", relay.up.Bytes()}} {
		mid, full := midRecords(t, dir.stream)
		// One chunk of 256 KiB + the seal's tag: 16 full records, and at
		// most a short last one.
		if full < cs/(16<<10) || mid > 1 {
			t.Errorf("%s: %d full-size records and %d of 1-16 KiB, want %d full and at most 1 shorter", dir.name, full, mid, cs/(16<<10))
		}
	}
}
