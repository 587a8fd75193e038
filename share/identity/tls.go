package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sync"
	"time"
)

// ErrWrongPeer is wrapped by every error about a peer certificate that does
// not belong to the expected (or an allowed) device.
var ErrWrongPeer = errors.New("wrong peer")

const (
	certLifetime = 20 * 365 * 24 * time.Hour
	// clockSlack is how far outside its validity period a certificate is
	// still accepted, for peers with bad clocks.
	clockSlack = 24 * time.Hour
)

// Certificate returns the device's self-signed TLS certificate, made on first
// use and cached for the life of the Identity.
func (i *Identity) Certificate() (tls.Certificate, error) {
	i.certOnce.Do(func() { i.cert, i.certErr = i.makeCertificate(time.Now()) })
	return i.cert, i.certErr
}

func (i *Identity) makeCertificate(now time.Time) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: string(i.id)},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(certLifetime).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, i.sign.Public(), i.sign)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing own certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: i.sign, Leaf: leaf}, nil
}

// AllowNoClientCert, passed as ServerTLS's allow function, makes client
// certificates optional: a client without one is accepted (its requests must
// then be authenticated some other way), a client with one must still present
// a valid device certificate. Called directly it allows every device.
func AllowNoClientCert(ID) error { return nil }

func isAllowNoClientCert(f func(ID) error) bool {
	return f != nil && reflect.ValueOf(f).Pointer() == reflect.ValueOf(AllowNoClientCert).Pointer()
}

// ServerTLS returns a TLS 1.3 server config presenting the device certificate
// and requiring a client device certificate. allow, if not nil, is called with
// the client's verified ID on every handshake (resumptions included); an
// error refuses the connection (wrapped with ErrWrongPeer). allow == nil
// accepts any valid device certificate; allow == AllowNoClientCert also
// accepts clients without a certificate.
func (i *Identity) ServerTLS(allow func(ID) error) *tls.Config {
	optional := isAllowNoClientCert(allow)
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := i.Certificate()
			return &c, err
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				if optional {
					return nil
				}
				return fmt.Errorf("%w: no client certificate", ErrWrongPeer)
			}
			pub, err := verifyChain(cs.PeerCertificates, "", time.Now())
			if err != nil {
				return err
			}
			if allow != nil && !optional {
				id := IDFromKey(pub)
				if err := allow(id); err != nil {
					return fmt.Errorf("%w: device %s not allowed: %w", ErrWrongPeer, id.Short(), err)
				}
			}
			return nil
		},
	}
	if optional {
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg
}

// ClientTLS returns a TLS 1.3 client config presenting the device certificate
// and accepting only a server whose certificate key hashes to want. With want
// == "" any valid device certificate is accepted; read it with PeerID.
func (i *Identity) ClientTLS(want ID) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The certificate is self-signed: VerifyConnection below does the
		// checking that chain verification would otherwise do.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := i.Certificate()
			return &c, err
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := verifyChain(cs.PeerCertificates, want, time.Now())
			return err
		},
	}
}

// PeerID returns the verified device ID and key of the peer of a completed
// handshake made with ServerTLS or ClientTLS.
func PeerID(cs tls.ConnectionState) (ID, ed25519.PublicKey, error) {
	if !cs.HandshakeComplete {
		return "", nil, errors.New("peer id: handshake not complete")
	}
	if len(cs.PeerCertificates) == 0 {
		return "", nil, fmt.Errorf("peer id: %w: no certificate", ErrWrongPeer)
	}
	pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("peer id: %w: not an ed25519 certificate", ErrWrongPeer)
	}
	return IDFromKey(pub), pub, nil
}

// VerifyCertificate checks a DER certificate as a device certificate: an
// ed25519 key, a valid self-signature, a validity period containing now
// (give or take a day) and, unless want is "", a key that hashes to want.
// It returns the certificate's public key.
func VerifyCertificate(raw []byte, want ID) (ed25519.PublicKey, error) {
	c, err := x509.ParseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing certificate: %w", ErrWrongPeer, err)
	}
	return verifyCert(c, want, time.Now())
}

func verifyChain(certs []*x509.Certificate, want ID, now time.Time) (ed25519.PublicKey, error) {
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: %d certificates, want exactly 1", ErrWrongPeer, len(certs))
	}
	return verifyCert(certs[0], want, now)
}

func verifyCert(c *x509.Certificate, want ID, now time.Time) (ed25519.PublicKey, error) {
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate key is %T, want ed25519", ErrWrongPeer, c.PublicKey)
	}
	if !selfSigned.checked(c.Raw) {
		if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
			return nil, fmt.Errorf("%w: certificate self-signature: %w", ErrWrongPeer, err)
		}
		selfSigned.add(c.Raw)
	}
	if now.Before(c.NotBefore.Add(-clockSlack)) || now.After(c.NotAfter.Add(clockSlack)) {
		return nil, fmt.Errorf("%w: certificate valid %s to %s, not now", ErrWrongPeer,
			c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
	if want != "" {
		if got := IDFromKey(pub); got != want {
			return nil, fmt.Errorf("%w: peer is %s, want %s", ErrWrongPeer, got, want)
		}
	}
	return pub, nil
}

// selfSigned remembers certificates whose self-signature checked out (by
// the SHA-256 of their DER): a device meets the same peers' certificates
// on every connection, and the Ed25519 check was 6 % of a 200-device crowd's
// CPU (pprof). Only the signature check is skipped: the validity period and the
// expected ID are checked every time.
var selfSigned = &sigCache{seen: map[[32]byte]struct{}{}}

// sigCacheMax bounds sigCache; when full it starts over.
const sigCacheMax = 4096

type sigCache struct {
	mu   sync.Mutex
	seen map[[32]byte]struct{}
}

func (c *sigCache) checked(raw []byte) bool {
	h := sha256.Sum256(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[h]
	return ok
}

func (c *sigCache) add(raw []byte) {
	h := sha256.Sum256(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= sigCacheMax {
		clear(c.seen)
	}
	c.seen[h] = struct{}{}
}
