// Package tlswire is for tests that read what real TLS peers put on the
// wire: a loopback TCP relay that keeps the bytes it passes each way
// (Relay), and a count of a TLS 1.3 stream's application-data records by
// size (Records). share/peer's and the directory's tests read with them
// whether a connection's first bytes already go out in full-size records.
package tlswire

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Relay is a loopback TCP relay to one target that keeps every byte it
// passes each way.
type Relay struct {
	ln       net.Listener
	mu       sync.Mutex
	up, down bytes.Buffer // dialler → target, target → dialler
	conns    []net.Conn
}

// StartRelay listens on a loopback port and relays each connection to
// target until the test ends; then it closes them all (a kept-alive
// connection stays open otherwise) and waits for its goroutines.
func StartRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln}
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
			wg.Go(func() { r.pipe(s, c, &r.up) })
			wg.Go(func() { r.pipe(c, s, &r.down) })
		}
	})
	return r
}

// pipe copies src to dst, keeping a copy, until either fails; then it
// closes both.
func (r *Relay) pipe(dst, src net.Conn, keep *bytes.Buffer) {
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

// Addr is the address to dial instead of the target.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Up is a copy of what the diallers sent so far, Down of what the target
// answered.
func (r *Relay) Up() []byte   { return r.copyOf(&r.up) }
func (r *Relay) Down() []byte { return r.copyOf(&r.down) }

func (r *Relay) copyOf(b *bytes.Buffer) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(b.Bytes())
}

// Records counts the TLS 1.3 application-data records in stream (a
// record stream from its first byte, as Up or Down give it) that carry a
// full record's 16 KiB of plaintext, and those that carry 1 KiB up to
// less than that; handshake records and a cut last record are not
// counted.
func Records(stream []byte) (mid, full int) {
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
