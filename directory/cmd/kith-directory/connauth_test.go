package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// certClient is an HTTPS client whose connections to p present cert (as
// GetClientCertificate) and pin the directory's key.
func certClient(t testing.TB, p *proc, cert tls.Certificate) *http.Client {
	t.Helper()
	pin, err := identity.Generate() // only for ClientTLS's pin check; its own certificate is replaced
	if err != nil {
		t.Fatal(err)
	}
	cfg := pin.ClientTLS(p.fp)
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 4}}
}

// deviceCert is the certificate a device's own client presents.
func deviceCert(t testing.TB, id *identity.Identity) tls.Certificate {
	t.Helper()
	c, err := id.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forgedCert is a self-signed-looking certificate for pub, named cn,
// signed with signer (which need not hold pub).
func forgedCert(t testing.TB, pub ed25519.PublicKey, cn string, signer ed25519.PrivateKey) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: signer}
}

// send makes one request on hc with the given headers; it returns the
// status (0 when the connection failed) and the body.
func send(t testing.TB, hc *http.Client, method, url string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecurityConnectionAuth: a request is authenticated by its connection
// only when it names the device whose certificate (and key: TLS
// CertificateVerify) the connection was made with, and that device is
// enrolled with that very key and not revoked. A connection of device A
// never acts for B (unsigned, or carrying B's valid signature); an
// unsigned request without a client certificate is refused; a certificate
// naming A over another key, or carrying A's key without A's private key,
// gets nothing.
func TestSecurityConnectionAuth(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	p := serve(t, data)
	a := enroll(t, p, "alice", "laptop")
	a2 := enroll(t, p, "alice", "phone")
	b := enroll(t, p, "bob", "desk")
	hold := []directory.Holding{{Content: sealed.ContentID{42}, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}
	if err := b.c.Announce(ctx, directory.Announcement{Addrs: []string{"192.0.2.20:7000"}, Holdings: hold}); err != nil {
		t.Fatal(err)
	}
	asA := certClient(t, p, deviceCert(t, a.id))
	devices := p.base + "/v1/devices"
	name := func(d *device) map[string]string { return map[string]string{directory.HeaderDevice: string(d.id.ID())} }

	// A's connection, naming A: authenticated, answers A's account.
	if st, body := send(t, asA, "GET", devices, nil, name(a)); st != http.StatusOK || !strings.Contains(body, string(a2.id.ID())) {
		t.Fatalf("A's connection naming A: %d %s, want 200 listing alice's devices", st, body)
	}
	// A's connection naming B, unsigned: refused, nothing of bob's answered.
	if st, body := send(t, asA, "GET", devices, nil, name(b)); st != http.StatusUnauthorized || strings.Contains(body, "desk") {
		t.Fatalf("A's connection naming B: %d %s, want 401", st, body)
	}
	// A's connection carrying B's own valid signature: still refused.
	req, _ := http.NewRequest("GET", devices, nil)
	dh, th, sh := directory.SignRequest(b.id, "GET", req.URL.RequestURI(), time.Now().UnixMilli(), nil)
	signedB := map[string]string{directory.HeaderDevice: dh, directory.HeaderTime: th, directory.HeaderSignature: sh}
	if st, body := send(t, asA, "GET", devices, nil, signedB); st != http.StatusUnauthorized {
		t.Fatalf("A's connection with B's signature: %d %s, want 401", st, body)
	}
	// A mutating request for B on A's connection: refused, and B stays listed.
	if st, body := send(t, asA, "DELETE", p.base+"/v1/announce", nil, name(b)); st != http.StatusUnauthorized {
		t.Fatalf("A's connection withdrawing B: %d %s, want 401", st, body)
	}
	sup, err := a.c.Suppliers(ctx, sealed.ContentID{42})
	if err != nil || len(sup) != 1 || sup[0].Device != b.id.ID() {
		t.Fatalf("after the refused withdraw, suppliers = %+v, %v; want bob's device", sup, err)
	}

	// No client certificate: an unsigned request naming A, or naming no one, is refused.
	for _, h := range []map[string]string{name(a), nil} {
		if st, body := send(t, insecureClient(), "GET", devices, nil, h); st != http.StatusUnauthorized {
			t.Fatalf("unsigned request without a certificate (%v): %d %s, want 401", h, st, body)
		}
	}
	// The same request signed by A, without a certificate: accepted (signed requests stay).
	if resp, body := rawReq(t, p, "GET", "/v1/devices", nil, a.id, time.Now()); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed request without a certificate: %d %s", resp.StatusCode, body)
	}

	// A certificate over another key but named A: the ID is the key's, so it is not A.
	other, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	named := certClient(t, p, forgedCert(t, other, string(a.id.ID()), otherPriv))
	if st, body := send(t, named, "GET", devices, nil, name(a)); st != http.StatusUnauthorized {
		t.Fatalf("certificate named A over another key: %d %s, want 401", st, body)
	}
	// A's public key without A's private key: the handshake fails.
	stolen := certClient(t, p, forgedCert(t, a.id.Public().Sign, string(a.id.ID()), otherPriv))
	if st, body := send(t, stolen, "GET", devices, nil, name(a)); st != 0 {
		t.Fatalf("certificate with A's key, signed without it: %d %s, want a failed handshake", st, body)
	}
	// A device's certificate that is not enrolled: refused.
	stranger, _ := identity.Generate()
	if st, body := send(t, certClient(t, p, deviceCert(t, stranger)), "GET", devices, nil,
		map[string]string{directory.HeaderDevice: string(stranger.ID())}); st != http.StatusUnauthorized {
		t.Fatalf("unenrolled device's connection: %d %s, want 401", st, body)
	}

	// A revoked by A2: A's open connection is refused from then on (a
	// revoke reaches an authenticated connection; it does not wait for the
	// connection to close).
	if err := a2.c.RevokeDevice(ctx, a.id.ID()); err != nil {
		t.Fatal(err)
	}
	if st, body := send(t, asA, "GET", devices, nil, name(a)); st != http.StatusForbidden {
		t.Fatalf("revoked A on its open connection: %d %s, want 403", st, body)
	}
	if v := metric(t, p, `kith_directory_device_requests_total{method="connection"}`); v == "" || v == "0" {
		t.Fatalf("connection-authenticated requests not counted: %q", v)
	}
}

// TestClientAuthByConnection: the directory client authenticates by its
// connection (no request signed) unless told to sign, and both work.
func TestClientAuthByConnection(t *testing.T) {
	ctx := context.Background()
	p := serve(t, t.TempDir())
	d := enroll(t, p, "carol", "laptop")
	before := metric(t, p, `kith_directory_device_requests_total{method="signature"}`)
	for i := 0; i < 3; i++ {
		if _, err := d.c.Devices(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := metric(t, p, `kith_directory_device_requests_total{method="signature"}`); got != before {
		t.Fatalf("signed requests went from %s to %s: the client signed on its certificate's connection", before, got)
	}
	if got := metric(t, p, `kith_directory_device_requests_total{method="connection"}`); got != "3" {
		t.Fatalf("connection-authenticated requests = %q, want 3", got)
	}
	signer, err := directory.NewClient(directory.ClientOptions{URL: p.url, Device: d.id, SignRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Devices(ctx); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, p, `kith_directory_device_requests_total{method="connection"}`); got != "3" {
		t.Fatalf("with SignRequests, connection-authenticated requests = %q, want still 3", got)
	}
}
