package directory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"net"
	"net/http"
	"sync"

	"github.com/kith-media/kith/share/identity"
)

// connDevice returns the device whose certificate r's connection was made
// with ("" and nil when there is none). TLSConfig's handshake check has
// verified it: one self-signed ed25519 certificate, valid now, whose key
// the client proved it holds. A connection served by Serve works it out
// once (TLS 1.3 has no renegotiation: the certificate is the connection's
// for its life).
func connDevice(r *http.Request) (identity.ID, ed25519.PublicKey) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", nil
	}
	ci, _ := r.Context().Value(connInfoKey{}).(*connInfo)
	if ci == nil {
		return peerDevice(r.TLS)
	}
	ci.once.Do(func() { ci.id, ci.pub = peerDevice(r.TLS) })
	return ci.id, ci.pub
}

func peerDevice(cs *tls.ConnectionState) (identity.ID, ed25519.PublicKey) {
	id, pub, err := identity.PeerID(*cs)
	if err != nil {
		return "", nil
	}
	return id, pub
}

// connInfo is what a connection's requests share (http.Server.ConnContext).
type connInfo struct {
	once sync.Once
	id   identity.ID
	pub  ed25519.PublicKey
}

type connInfoKey struct{}

// withConnInfo gives each connection its connInfo.
func withConnInfo(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connInfoKey{}, &connInfo{})
}

// checkConnDevice refuses a request that names (Kith-Device) a device other
// than the one whose certificate its connection was made with: a
// connection authenticated as one device never acts for another, signed or
// not.
func checkConnDevice(r *http.Request) error {
	conn, _ := connDevice(r)
	h := r.Header.Get(HeaderDevice)
	if conn == "" || h == "" {
		return nil
	}
	if h == string(conn) { // the canonical spelling, as clients send it
		return nil
	}
	if id, err := identity.ParseID(h); err != nil || id != conn {
		return newError(http.StatusUnauthorized, CodeUnauthorized,
			"this connection was made with the certificate of device %s; a request on it cannot act for %q", conn, h)
	}
	return nil
}

// connAuthenticate authenticates r by its connection when it names the
// connection's device and carries no signature headers: ok reports that it
// did (d is then the enrolled device, whose registered key must be the
// certificate's). A request with signature headers is left to them (ok
// false, no error).
func (s *Server) connAuthenticate(r *http.Request) (d *Device, ok bool, err error) {
	conn, key := connDevice(r)
	if conn == "" || r.Header.Get(HeaderSignature) != "" || r.Header.Get(HeaderTime) != "" {
		return nil, false, nil
	}
	if r.Header.Get(HeaderDevice) != string(conn) { // callers checked already; the usual canonical spelling skips a second look-up
		if err := checkConnDevice(r); err != nil {
			return nil, false, err
		}
	}
	d, err = s.device(r.Context(), conn)
	if err != nil {
		return nil, false, err
	}
	if !bytes.Equal(d.Keys.Sign, key) { // the ID is the key's hash; check the key itself too
		return nil, false, newError(http.StatusUnauthorized, CodeUnauthorized,
			"the connection's certificate key is not the key enrolled for device %s", conn.Short())
	}
	s.metrics.authn.add("connection", 1)
	return d, true, nil
}
