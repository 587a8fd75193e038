package relay

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// TestRelayCountsEachStep: the relay's byte counter is exact and never
// behind what the far end has received — after bytes an asker sent
// without waiting for the relay's answer, after a small keep-alive on an
// otherwise idle session, and after a bulk transfer — whichever way the
// relay moves the bytes (splice(2) on Linux).
func TestRelayCountsEachStep(t *testing.T) {
	r := newRigServing(t, Options{}, func(c net.Conn, _ *identity.Identity) { io.Copy(c, c) }) // plain echo
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))

	// Connect and the first payload in one write: the relay's reader takes
	// both, and the payload must still reach the supplier, counted.
	early := []byte("sent before the relay answered")
	var msg bytes.Buffer
	msg.WriteString(magic)
	if err := writeFrame(&msg, msgConnect, r.ticket(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	msg.Write(early)
	if _, err := c.Write(msg.Bytes()); err != nil {
		t.Fatal(err)
	}
	typ, body, err := readFrame(c)
	if err != nil || typ != msgResult || parseResult(body) != nil {
		t.Fatalf("relay's answer: type %d %q %v", typ, body, err)
	}
	var sent int64
	exchange := func(what string, p []byte) {
		t.Helper()
		errc := make(chan error, 1)
		go func() { _, err := c.Write(p); errc <- err }()
		got := make([]byte, len(p))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("%s: reading the echo: %v", what, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("%s: the echo differs", what)
		}
		sent += int64(len(p))
		// Both directions are counted before they go out: no waiting here.
		if got := r.srv.Stats().Bytes; got != 2*sent {
			t.Fatalf("%s: relay counted %d bytes, want exactly %d", what, got, 2*sent)
		}
	}
	got := make([]byte, len(early))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, early) {
		t.Fatalf("early payload echoed as %q, %v", got, err)
	}
	sent = int64(len(early))
	if got := r.srv.Stats().Bytes; got != 2*sent {
		t.Fatalf("early payload: relay counted %d bytes, want exactly %d", got, 2*sent)
	}
	exchange("keep-alive", []byte("ping"))
	time.Sleep(50 * time.Millisecond) // idle
	exchange("second keep-alive", []byte("pong!"))
	exchange("bulk", bytes.Repeat([]byte("kith"), 3<<20/4))
	exchange("keep-alive after bulk", []byte{1})
}

// TestRelayByteBudgetCutsMidStream: a supplier's byte budget is charged
// step by step, before the step goes out, and no step takes more than is
// left of it, so a session carries exactly the budget and is cut there.
func TestRelayByteBudgetCutsMidStream(t *testing.T) {
	const budget = 2 << 20
	r := newRigServing(t, Options{BytesPerDevice: budget}, func(c net.Conn, _ *identity.Identity) {
		c.Write(make([]byte, 8<<20)) // the supplier sends; the asker only reads
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, r.addr, r.ticket(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	if n != budget {
		t.Fatalf("the asker received %d bytes under a %d-byte budget, want all of it and no more", n, budget)
	}
	st := r.srv.Stats()
	if st.Refused["bytes"] != 1 {
		t.Fatalf("refused %v, want bytes = 1", st.Refused)
	}
	if st.Bytes != n {
		t.Fatalf("relay counted %d bytes, the asker received %d", st.Bytes, n)
	}
}
