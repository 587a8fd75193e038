package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

type rig struct {
	dir, relayID, sup, asker *identity.Identity
	srv                      *Server
	addr                     string
	ln                       *Listener
}

func newID(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newRig starts a relay on loopback and a supplier listener connected to
// it, whose accepted connections run a TLS echo server.
func newRig(t testing.TB, o Options) *rig {
	t.Helper()
	return newRigServing(t, o, func(c net.Conn, id *identity.Identity) {
		tc := tls.Server(c, id.ServerTLS(nil))
		io.Copy(tc, tc)
		tc.CloseWrite()
	})
}

// newRigServing is newRig with serve answering each accepted connection.
func newRigServing(t testing.TB, o Options, serve func(net.Conn, *identity.Identity)) *rig {
	t.Helper()
	r := &rig{dir: newID(t), relayID: newID(t), sup: newID(t), asker: newID(t)}
	o.Identity, o.Directory = r.relayID, r.dir.ID()
	o.Logger = quiet()
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- srv.Serve(ctx, ln) }()
	r.srv, r.addr = srv, ln.Addr().String()
	r.ln, err = NewListener(ListenerOptions{Identity: r.sup, Addr: r.addr, RelayID: r.relayID.ID(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- r.ln.Serve(ctx) }()
	go echo(r.ln, r.sup, serve)
	t.Cleanup(func() {
		cancel()
		r.ln.Close()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	waitFor(t, func() bool { return srv.Connected(r.sup.ID()) })
	return r
}

func echo(ln net.Listener, id *identity.Identity, serve func(net.Conn, *identity.Identity)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c, id)
		}()
	}
}

func waitFor(t testing.TB, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) ticket(t testing.TB, ttl time.Duration) []byte {
	t.Helper()
	b, err := SignTicket(r.dir, Ticket{Asker: r.asker.ID(), Supplier: r.sup.ID(), Expires: time.Now().Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip sends n bytes through a relayed TLS session and reads them back.
func (r *rig) roundTrip(t testing.TB, ticket []byte, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, r.addr, ticket)
	if err != nil {
		return err
	}
	defer c.Close()
	tc := tls.Client(c, r.asker.ClientTLS(r.sup.ID()))
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	want := bytes.Repeat([]byte("kith"), n/4)
	errc := make(chan error, 1)
	go func() {
		_, err := tc.Write(want)
		if err == nil {
			err = tc.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(tc)
	if werr := <-errc; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("echo differs")
	}
	return nil
}

func TestRelaySplicesEndToEndTLS(t *testing.T) {
	r := newRig(t, Options{})
	if err := r.roundTrip(t, r.ticket(t, time.Minute), 4<<20); err != nil {
		t.Fatal(err)
	}
	st := r.srv.Stats()
	// Both directions carry 4 MiB of TLS records (ciphertext: a little more).
	if st.SessionsTotal != 1 || st.Bytes < 8<<20 || st.Suppliers != 1 {
		t.Fatalf("stats %+v, want 1 session, >= 8 MiB, 1 supplier", st)
	}
	waitFor(t, func() bool { return r.srv.Stats().Sessions == 0 })
}

func TestRelayRefusesBadTickets(t *testing.T) {
	r := newRig(t, Options{})
	other := newID(t)
	good := r.ticket(t, time.Minute)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-70] ^= 1 // inside the expiry
	foreign, _ := SignTicket(other, Ticket{Asker: r.asker.ID(), Supplier: r.sup.ID(), Expires: time.Now().Add(time.Minute)})
	absent, _ := SignTicket(r.dir, Ticket{Asker: r.asker.ID(), Supplier: other.ID(), Expires: time.Now().Add(time.Minute)})
	for _, tc := range []struct {
		name   string
		ticket []byte
		want   Code
	}{
		{"expired", r.ticket(t, -time.Second), CodeExpired},
		{"too long-lived", r.ticket(t, MaxTicketTTL+time.Minute), CodeBadTicket},
		{"a flipped bit", flipped, CodeBadTicket},
		{"another directory's", foreign, CodeBadTicket},
		{"truncated", good[:len(good)-1], CodeBadTicket},
		{"garbage", []byte("hello"), CodeBadTicket},
		{"empty", nil, CodeBadTicket},
		{"supplier not connected", absent, CodeNoSupplier},
	} {
		err := r.roundTrip(t, tc.ticket, 16)
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != tc.want {
			t.Errorf("%s: got %v, want refusal %v", tc.name, err, tc.want)
		}
	}
	if st := r.srv.Stats(); st.SessionsTotal != 0 || st.Refused["bad_ticket"] != 6 || st.Refused["expired"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRelayCaps(t *testing.T) {
	t.Run("sessions per device", func(t *testing.T) {
		r := newRig(t, Options{MaxSessionsPerDevice: 1})
		ctx := context.Background()
		c, err := Dial(ctx, r.addr, r.ticket(t, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = Dial(ctx, r.addr, r.ticket(t, time.Minute))
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != CodeBusy {
			t.Fatalf("second session: got %v, want busy", err)
		}
	})
	t.Run("bytes per device", func(t *testing.T) {
		r := newRig(t, Options{BytesPerDevice: 1 << 20})
		if err := r.roundTrip(t, r.ticket(t, time.Minute), 4<<20); err == nil {
			t.Fatal("4 MiB echoed through a relay allowing 1 MiB")
		}
		err := r.roundTrip(t, r.ticket(t, time.Minute), 16)
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != CodeBusy {
			t.Fatalf("after the budget: got %v, want busy", err)
		}
	})
	t.Run("connections per address", func(t *testing.T) {
		r := newRig(t, Options{MaxConnsPerIP: 3}) // the supplier's control connection is one
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for range 2 {
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		waitFor(t, func() bool { return len(r.srv.Stats().Refused) == 0 && r.srv.connCount() == 3 })
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("a fourth connection from one address was served: %v", err)
		}
		if got := r.srv.Stats().Refused["connections_per_ip"]; got != 1 {
			t.Fatalf("refused %d connections per address, want 1", got)
		}
	})
	t.Run("rate per device", func(t *testing.T) {
		r := newRig(t, Options{RatePerDevice: 4 << 20})
		start := time.Now()
		if err := r.roundTrip(t, r.ticket(t, time.Minute), 2<<20); err != nil {
			t.Fatal(err)
		}
		// 4 MiB (both ways) at 4 MiB/s with a 1 MiB burst takes >= 0.75 s.
		if d := time.Since(start); d < 700*time.Millisecond {
			t.Fatalf("4 MiB relayed in %v at 4 MiB/s", d)
		}
	})
}

func TestRelayJoinWithUnknownKeyRefused(t *testing.T) {
	r := newRig(t, Options{})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = preamble(context.Background(), c, msgJoin, make([]byte, keySize))
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != CodeUnknownJoin {
		t.Fatalf("got %v, want unknown session", err)
	}
}

func TestRelayMetrics(t *testing.T) {
	r := newRig(t, Options{})
	if err := r.roundTrip(t, r.ticket(t, time.Minute), 1024); err != nil {
		t.Fatal(err)
	}
	r.roundTrip(t, []byte("x"), 16)
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"kith_relay_suppliers 1", "kith_relay_sessions_total 1", `kith_relay_refused_total{reason="bad_ticket"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	rec = httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz %d", rec.Code)
	}
}

// TestRelayCoordinatesPunch: for a ConnectPunch the relay invites the
// supplier, tells each side the other's address and splices nothing. On
// loopback the asker listens on its port instead of dialing (crossing
// SYNs need NAT routers that drop, not reset, the early one: the netns
// test TestNATRelay does that), so the supplier's dial from the port the
// relay named arrives, and the supplier's peer TLS runs over it.
func TestRelayCoordinatesPunch(t *testing.T) {
	r := newRig(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := net.Dialer{Control: reuse, LocalAddr: &net.TCPAddr{}} // as punchVia binds
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lc := net.ListenConfig{Control: reuse}
	ln, err := lc.Listen(ctx, "tcp", ":"+strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, peer, err := punchPreamble(ctx, c, msgConnectPunch, r.ticket(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	pc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got := pc.RemoteAddr().String(); got != peer.String() {
		t.Fatalf("the supplier dialed from %s, the relay named %s", got, peer)
	}
	tc := tls.Client(pc, r.asker.ClientTLS(r.sup.ID()))
	if _, err := tc.Write([]byte("punched")); err != nil {
		t.Fatal(err)
	}
	tc.CloseWrite()
	got, err := io.ReadAll(tc)
	if err != nil || string(got) != "punched" {
		t.Fatalf("echo over the punched connection: %q, %v", got, err)
	}
	if st := r.srv.Stats(); st.Punches != 1 || st.Bytes != 0 || st.SessionsTotal != 0 {
		t.Fatalf("stats %+v, want one punch and nothing spliced", st)
	}
	// a punch with a bad ticket is refused like a splice
	_, err = DialPunch(ctx, r.addr, []byte("junk"))
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != CodeBadTicket {
		t.Fatalf("punch with a bad ticket: %v", err)
	}
}

// connCount is how many connections the relay tracks.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
