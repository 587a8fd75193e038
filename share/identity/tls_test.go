package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// handshake runs one TLS connection over loopback and returns the server's
// and client's handshake errors and the connection states. The server writes
// one byte after its handshake so a client learns of a rejection.
func handshake(tb testing.TB, server, client *tls.Config) (serr, cerr error, scs, ccs tls.ConnectionState) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		err error
		cs  tls.ConnectionState
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, server)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1})
		}
		done <- result{err, tc.ConnectionState()}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, client)
	cerr = tc.Handshake()
	if cerr == nil {
		// In TLS 1.3 the server checks the client certificate after the
		// client's handshake is done: read to see the verdict.
		_, cerr = io.ReadFull(tc, make([]byte, 1))
	}
	ccs = tc.ConnectionState()
	r := <-done
	return r.err, cerr, r.cs, ccs
}

func TestMutualTLS(t *testing.T) {
	srv, cli, other := mustGenerate(t), mustGenerate(t), mustGenerate(t)
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	denyAll := func(ID) error { return errors.New("not on the list") }
	onlyCli := func(id ID) error {
		if id != cli.ID() {
			return fmt.Errorf("%s unknown", id.Short())
		}
		return nil
	}
	for _, tc := range []struct {
		name           string
		server, client *tls.Config
		wantServer     error // nil: success
		wantClient     error
	}{
		// Both sides know who they talk to.
		{"right id", srv.ServerTLS(onlyCli), cli.ClientTLS(srv.ID()), nil, nil},
		// Client accepts anyone, server any device.
		{"any peer", srv.ServerTLS(nil), cli.ClientTLS(""), nil, nil},
		// The client expected a different device: the client refuses.
		{"wrong server id", srv.ServerTLS(nil), cli.ClientTLS(other.ID()), errAny, ErrWrongPeer},
		// The server's allow list refuses the client.
		{"client not allowed", srv.ServerTLS(denyAll), cli.ClientTLS(srv.ID()), ErrWrongPeer, errAny},
		// A client with no certificate on a server that requires one.
		{"no client cert", srv.ServerTLS(nil), noCert, errAny, errAny},
		// ... accepted when client certificates are optional.
		{"no client cert optional", srv.ServerTLS(AllowNoClientCert), noCert, nil, nil},
		// ... and with a certificate it is still verified and read.
		{"optional with cert", srv.ServerTLS(AllowNoClientCert), cli.ClientTLS(srv.ID()), nil, nil},
		// TLS 1.2 is refused.
		{"tls12 client", srv.ServerTLS(nil), &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}, errAny, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serr, cerr, scs, ccs := handshake(t, tc.server, tc.client)
			check := func(side string, got, want error) {
				t.Helper()
				switch {
				case want == nil && got != nil:
					t.Errorf("%s: %v, want success", side, got)
				case want == errAny && got == nil, want != nil && want != errAny && !errors.Is(got, want):
					t.Errorf("%s: %v, want %v", side, got, want)
				}
			}
			check("server", serr, tc.wantServer)
			check("client", cerr, tc.wantClient)
			if serr != nil || cerr != nil {
				return
			}
			if got, _, err := PeerID(ccs); err != nil || got != srv.ID() {
				t.Errorf("client PeerID = %s, %v; want %s", got, err, srv.ID())
			}
			if len(scs.PeerCertificates) > 0 {
				if got, _, err := PeerID(scs); err != nil || got != cli.ID() {
					t.Errorf("server PeerID = %s, %v; want %s", got, err, cli.ID())
				}
			}
		})
	}
}

// errAny marks "some error" in the table.
var errAny = errors.New("any error")

func TestVerifyCertificate(t *testing.T) {
	dev := mustGenerate(t)
	cert, err := dev.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	old, err := dev.makeCertificate(time.Now().Add(-30 * 365 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	future, err := dev.makeCertificate(time.Now().Add(3 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	skewed, err := dev.makeCertificate(time.Now().Add(12 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	ecDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	// A certificate for dev's key signed by another key: the self-signature fails.
	other := mustGenerate(t)
	tmpl2 := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	crossDER, _ := x509.CreateCertificate(rand.Reader, tmpl2, tmpl2, dev.Public().Sign, other.SigningKey())

	for _, tc := range []struct {
		name string
		raw  []byte
		want ID
		ok   bool
	}{
		// The device's own certificate against its ID.
		{"match", cert.Certificate[0], dev.ID(), true},
		// Any device accepted.
		{"any", cert.Certificate[0], "", true},
		// Another device's ID.
		{"wrong id", cert.Certificate[0], other.ID(), false},
		// Expired ten years ago.
		{"expired", old.Certificate[0], dev.ID(), false},
		// Not valid until three days from now (minus the hour of back-dating).
		{"not yet valid", future.Certificate[0], dev.ID(), false},
		// A peer clock 12h ahead is tolerated.
		{"skewed clock", skewed.Certificate[0], dev.ID(), true},
		// Not an ed25519 key.
		{"ecdsa", ecDER, "", false},
		// Self-signature made by a different key.
		{"bad self-signature", crossDER, dev.ID(), false},
		// A failed check is not remembered as passed (selfSigned).
		{"bad self-signature again", crossDER, dev.ID(), false},
		// A remembered certificate still meets the ID check.
		{"match again, wrong id", cert.Certificate[0], other.ID(), false},
		// Garbage.
		{"garbage", []byte("not a certificate"), "", false},
	} {
		pub, err := VerifyCertificate(tc.raw, tc.want)
		if tc.ok != (err == nil) {
			t.Errorf("%s: VerifyCertificate err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrWrongPeer) {
			t.Errorf("%s: %v does not wrap ErrWrongPeer", tc.name, err)
		}
		if err == nil && IDFromKey(pub) != dev.ID() {
			t.Errorf("%s: returned key of %s", tc.name, IDFromKey(pub))
		}
	}
}

// BenchmarkMutualTLSHandshake measures one full (not resumed) mutual TLS 1.3
// handshake over loopback, both sides verifying the other's device ID, plus
// one byte of application data so the server's verdict is seen.
func BenchmarkMutualTLSHandshake(b *testing.B) {
	srv, cli := mustGenerate(b), mustGenerate(b)
	scfg, ccfg := srv.ServerTLS(nil), cli.ClientTLS(srv.ID())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, scfg)
			if tc.Handshake() == nil {
				tc.Write([]byte{1})
			}
			tc.Close()
		}
	}()
	buf := make([]byte, 1)
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// TestResumptionStillChecked makes sure a resumed session (no certificate
// exchange on the wire) still runs the allow check.
func TestResumptionStillChecked(t *testing.T) {
	srv, cli := mustGenerate(t), mustGenerate(t)
	var deny atomic.Bool
	scfg := srv.ServerTLS(func(ID) error {
		if deny.Load() {
			return errors.New("revoked")
		}
		return nil
	})
	ccfg := cli.ClientTLS(srv.ID())
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	ccfg.ServerName = "peer" // the session cache key; the default (the address) changes per test listener
	if serr, cerr, _, _ := handshake(t, scfg, ccfg); serr != nil || cerr != nil {
		t.Fatal(serr, cerr)
	}
	serr, cerr, scs, _ := handshake(t, scfg, ccfg)
	if serr != nil || cerr != nil || !scs.DidResume {
		t.Fatalf("second handshake: %v, %v, resumed %v; want a resumed session", serr, cerr, scs.DidResume)
	}
	if got, _, err := PeerID(scs); err != nil || got != cli.ID() {
		t.Fatalf("PeerID on resumed session = %s, %v", got, err)
	}
	deny.Store(true)
	if serr, _, _, _ := handshake(t, scfg, ccfg); !errors.Is(serr, ErrWrongPeer) {
		t.Fatalf("resumed handshake after revocation: %v, want ErrWrongPeer", serr)
	}
}

// recordingCache is a client session cache that keeps the last session
// put under each key, and answers Get from over when set (a forged entry).
type recordingCache struct {
	mu   sync.Mutex
	m    map[string]*tls.ClientSessionState
	over *tls.ClientSessionState
}

func (c *recordingCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over != nil {
		return c.over, true
	}
	s, ok := c.m[key]
	return s, ok
}

func (c *recordingCache) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*tls.ClientSessionState{}
	}
	if cs != nil {
		c.m[key] = cs
	}
}

// session returns the ticket and state last put under key.
func (c *recordingCache) session(tb testing.TB, key string) ([]byte, *tls.SessionState) {
	tb.Helper()
	c.mu.Lock()
	cs := c.m[key]
	c.mu.Unlock()
	if cs == nil {
		tb.Fatalf("no session ticket kept for %q", key)
	}
	ticket, st, err := cs.ResumptionState()
	if err != nil || st == nil {
		tb.Fatalf("resumption state: %v", err)
	}
	return ticket, st
}

// TestSecurityResumptionIsPerDevice: TLS session resumption between
// peers (the client keeps tickets, servers issue them) never lets one
// device pass for another. A resumed session carries the certificate of
// the handshake that issued its ticket, so the server's device check and
// allow function run on it (TestResumptionStillChecked); here: device C
// presenting device B's ticket (the identity on the wire, which anyone
// on the path sees) with its own session secret is refused, never taken
// for B; B's ticket and secret offered to another server (a different
// device at the address) do not resume there, and B's client, pinned to
// the server it resumed with, refuses that device's certificate.
func TestSecurityResumptionIsPerDevice(t *testing.T) {
	a, b, c, d := mustGenerate(t), mustGenerate(t), mustGenerate(t), mustGenerate(t)
	scfg := a.ServerTLS(nil)
	client := func(id *Identity, want ID, cache tls.ClientSessionCache) *tls.Config {
		cfg := id.ClientTLS(want)
		cfg.ServerName = "peer" // the cache key, the same for every listener
		cfg.ClientSessionCache = cache
		return cfg
	}
	bCache, cCache := &recordingCache{}, &recordingCache{}
	for _, tc := range []struct {
		id    *Identity
		cache *recordingCache
	}{{b, bCache}, {c, cCache}} {
		if serr, cerr, _, _ := handshake(t, scfg, client(tc.id, a.ID(), tc.cache)); serr != nil || cerr != nil {
			t.Fatalf("first handshake: %v, %v", serr, cerr)
		}
	}
	// B resumes as itself.
	serr, cerr, scs, _ := handshake(t, scfg, client(b, a.ID(), bCache))
	if serr != nil || cerr != nil || !scs.DidResume {
		t.Fatalf("B resuming: %v, %v, resumed %v", serr, cerr, scs.DidResume)
	}
	if got, _, err := PeerID(scs); err != nil || got != b.ID() {
		t.Fatalf("B's resumed session is device %s (%v), want B", got, err)
	}
	// C presents B's ticket with C's own secret.
	bTicket, _ := bCache.session(t, "peer")
	_, cState := cCache.session(t, "peer")
	forged, err := tls.NewResumptionState(bTicket, cState)
	if err != nil {
		t.Fatal(err)
	}
	serr, cerr, scs, _ = handshake(t, scfg, client(c, a.ID(), &recordingCache{over: forged}))
	if serr == nil && cerr == nil {
		got, _, err := PeerID(scs)
		if err != nil || got != c.ID() || scs.DidResume {
			t.Fatalf("C with B's ticket: server sees %s (%v), resumed %v; want a refusal or C's own full handshake", got, err, scs.DidResume)
		}
	} else if got, _, err := PeerID(scs); err == nil && got == b.ID() {
		t.Fatalf("C with B's ticket: server took it for B (%v, %v)", serr, cerr)
	}
	// B's own ticket and secret, offered to device D's server at the
	// address: D cannot open A's ticket, and B's client wants A.
	serr, cerr, scs, _ = handshake(t, d.ServerTLS(nil), client(b, a.ID(), bCache))
	if scs.DidResume {
		t.Fatal("D resumed a session A issued")
	}
	if !errors.Is(cerr, ErrWrongPeer) {
		t.Fatalf("B resuming with A at D's address: client error %v (server %v), want ErrWrongPeer", cerr, serr)
	}
}
