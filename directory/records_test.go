package directory_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
)

// tlsRelay is a loopback TCP relay to target that keeps the bytes it
// passes from target back to the dialler, to read the TLS records a real
// directory sends.
type tlsRelay struct {
	ln    net.Listener
	mu    sync.Mutex
	down  bytes.Buffer
	conns []net.Conn // closed when the test ends: a kept-alive connection stays open
}

func startTLSRelay(t *testing.T, target string) *tlsRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tlsRelay{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		wg.Wait()
	})
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
			r.mu.Lock()
			r.conns = append(r.conns, c, s)
			r.mu.Unlock()
			pipe := func(dst, src net.Conn, keep *bytes.Buffer) {
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if keep != nil {
							r.mu.Lock()
							keep.Write(buf[:n])
							r.mu.Unlock()
						}
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
			wg.Go(func() { pipe(s, c, nil) })
			wg.Go(func() { pipe(c, s, &r.down) })
		}
	})
	return r
}

// TestOriginAnswersInFullRecords: the origin's content answer goes out in
// full-size TLS records from the connection's first byte, not in records
// that grow a packet at a time over its first 128 KB (crypto/tls's
// dynamic record sizing, which makes the downloading device's crypto/tls
// reallocate its input buffer for each bigger record, as share/peer's
// TestFullRecordsFromTheStart says of peer connections). A real directory
// over TLS on loopback, a device's client reading a title from the origin
// through a relay that reads the records on the wire.
func TestOriginAnswersInFullRecords(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateIP: -1, RateDevice: -1})
	plain := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{13}).Read(plain)
	title, err := directory.Publish(ctx, d.Store, d.Identity, d.Origin, bytes.NewReader(plain), directory.PublishOptions{Name: "Song", MediaType: "audio/mpeg"})
	if err != nil {
		t.Fatal(err)
	}
	relay := startTLSRelay(t, d.Addr)
	c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://"+relay.ln.Addr().String(), d.Server.ID())})
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.Origin(ctx, title.ContentID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err != nil || n != title.Size {
		t.Fatalf("origin read %d of %d bytes: %v", n, title.Size, err)
	}

	relay.mu.Lock()
	defer relay.mu.Unlock()
	var mid, full int
	for stream := relay.down.Bytes(); len(stream) >= 5; {
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
	t.Logf("%d full-size records, %d of 1-16 KiB", full, mid)
	// The answer's head and the first bytes of the body go out together
	// through net/http's 4 KiB buffer, the rest in 32 KiB writes: a few
	// shorter records around full ones, not one a packet bigger at a time.
	if want := int(title.Size/(16<<10)) - 4; full < want || mid > 3 {
		t.Errorf("a %d-byte origin answer came in %d full-size records and %d of 1-16 KiB, want %d full at least and at most 3 shorter",
			title.Size, full, mid, want)
	}
}
