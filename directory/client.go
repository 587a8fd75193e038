package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// URL is the directory, "https://host:port#FINGERPRINT" (the fragment
	// may be omitted when Fingerprint is set).
	URL string
	// Fingerprint pins the directory's identity; required here or in
	// URL (a client never trusts whoever answers first).
	Fingerprint identity.ID
	// Device is who the client acts for; nil allows only the public calls.
	// With the client's own HTTPS client, connections are made with the
	// device's certificate and its requests are authenticated by the
	// connection; otherwise each is signed with the device key.
	Device *identity.Identity
	// SignRequests signs every request with the device key even on
	// connections made with its certificate (as a directory older than
	// authentication by connection needs; the client also switches to
	// signing by itself when a directory refuses a request and never asked
	// for its certificate).
	SignRequests bool
	// HTTPClient overrides the pinned HTTPS client (its TLS settings are
	// then the caller's); requests as the device are then always signed.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client talks to one directory. It is safe for concurrent use.
type Client struct {
	base string
	dev  *identity.Identity
	hc   *http.Client   // ClientOptions.HTTPClient; nil: own
	own  *connTransport // the client's own transport, called directly (send)
	log  *slog.Logger

	mu   sync.Mutex
	fp   identity.ID // pinned fingerprint
	info *Info
	// lastHeld is the HoldingsDigest of the last holdings announced in
	// full and answered; noSame is set once the directory refused to be
	// told holdings by digest (older: announcesame.go).
	lastHeld   []byte
	noSame     bool
	sameMisses int // 409s to holdings named by digest, running

	lastMilli atomic.Int64 // signed times strictly increase, so no two requests sign the same bytes

	// byConn: requests as the device are authenticated by the connection
	// (made with its certificate) rather than signed, unless signAll was set
	// because the directory refused one without ever asking for the
	// certificate (certAsked).
	byConn    bool
	certAsked atomic.Bool
	signAll   atomic.Bool
	// connHeader is the header of every bodiless request as the device
	// authenticated by the connection, shared by them all and never
	// written to (net/http only reads a request's header; a caller adding
	// one clones it first): a header map per lookup was a tenth of what a
	// lookup allocated, and the client's garbage collections are paid per
	// byte allocated.
	connHeader http.Header
	// suppliersHeader is connHeader asking for the binary supplier list
	// (Accept: SuppliersMediaType), shared alike.
	suppliersHeader http.Header
	// baseURL is base parsed, for newConnRequest (nil: every request
	// parses base+path).
	baseURL *url.URL
}

// auth is how a request says who sends it.
type auth uint8

const (
	anonymous  auth = iota
	asDevice        // by the connection's certificate when it can, else signed
	signedOnly      // always signed (enrollment proves possession of the key it enrolls)
)

// ifDevice is asDevice for a client with a device, else anonymous: calls
// that are public but answer a device more (its household's titles, its
// origin budget).
func (c *Client) ifDevice() auth {
	if c.dev == nil {
		return anonymous
	}
	return asDevice
}

// signTime returns now in unix milliseconds, made strictly increasing per
// client: identical requests in the same millisecond would otherwise carry
// identical signatures and the second would be refused as a replay.
func (c *Client) signTime() int64 {
	now := time.Now().UnixMilli()
	for {
		last := c.lastMilli.Load()
		t := max(now, last+1)
		if c.lastMilli.CompareAndSwap(last, t) {
			return t
		}
	}
}

// dialAfter is how long a request waits for one of the client's busy
// connections to the directory before it opens another: a directory
// answers most requests in a millisecond or two, while a new connection
// costs two round trips and a key exchange on both ends (every connection
// opened to answer a momentary second or third request at once was a
// handshake in each process, and a connection the directory keeps).
// Requests that hold a connection long (origin reads, big announcements)
// delay another by at most this.
const dialAfter = 25 * time.Millisecond

// maxResponse caps JSON answers read by the client.
const maxResponse = 16 << 20

// NewClient returns a client for o.URL, pinning its fingerprint.
func NewClient(o ClientOptions) (*Client, error) {
	base, fp, err := ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Fingerprint != "" {
		if fp != "" && fp != o.Fingerprint {
			return nil, fmt.Errorf("directory client: url fingerprint %s differs from option %s", fp, o.Fingerprint)
		}
		fp = o.Fingerprint
	}
	if fp == "" {
		return nil, fmt.Errorf("directory client: %s has no fingerprint: give URL#FINGERPRINT (`kith-directory fingerprint` prints it)", base)
	}
	c := &Client{base: base, dev: o.Device, fp: fp, log: o.Logger}
	if o.Device != nil {
		c.connHeader = http.Header{HeaderDevice: {string(o.Device.ID())}}
		c.suppliersHeader = http.Header{HeaderDevice: c.connHeader[HeaderDevice], "Accept": {suppliersAccept}}
		c.baseURL = parseConnBase(base)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.hc = o.HTTPClient
	if c.hc == nil {
		c.byConn = o.Device != nil && !o.SignRequests
		// HTTP/1.1 (bulk ciphertext is faster than on HTTP/2), each request on
		// its caller's goroutine (connTransport). A device's requests wait for
		// one of 16 connections rather than open more: a crowd of hundreds,
		// each looking up its new peers at once, otherwise passed the
		// directory's connection cap (DefaultMaxConns) and had connections
		// closed on accept. Below that, a request waits dialAfter for a busy
		// one before it opens another. The directory never compresses its
		// answers.
		c.own = newConnTransport(c.tlsConfig(), 16, 90*time.Second, 10*time.Second, dialAfter)
	}
	return c, nil
}

// tlsConfig pins the directory certificate's key to the fingerprint.
// With a device, the connection is made with the device's certificate
// when the directory asks for one.
func (c *Client) tlsConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pin check below
		// Resume TLS sessions: a client opening its second and later
		// connections (a lookup while another is in flight) skips both
		// certificates' signatures and checks, as peer connections do; the
		// pin check below and the directory's own checks of the device's
		// certificate still run on a resumed connection, whose certificates
		// are those of the session it resumes.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("directory presented no certificate")
			}
			return c.checkPeer(cs.PeerCertificates[0])
		},
	}
	if c.dev != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.certAsked.Store(true)
			cert, err := c.dev.Certificate()
			if err != nil {
				return nil, fmt.Errorf("device certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return cfg
}

func (c *Client) checkPeer(cert *x509.Certificate) error {
	c.mu.Lock()
	want := c.fp
	c.mu.Unlock()
	if want == "" { // NewClient refuses this; never trust an unpinned key
		return errors.New("directory certificate: no fingerprint pinned")
	}
	if _, err := identity.VerifyCertificate(cert.Raw, want); err != nil {
		return fmt.Errorf("directory certificate: %w", err)
	}
	return nil
}

// Fingerprint is the pinned directory ID.
func (c *Client) Fingerprint() identity.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fp
}

// Device returns the client's device identity (nil if none).
func (c *Client) Device() *identity.Identity { return c.dev }

// Info fetches the directory's name, version and public keys, checking them
// against the pinned fingerprint. The answer is cached.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	c.mu.Lock()
	if c.info != nil {
		in := *c.info
		c.mu.Unlock()
		return &in, nil
	}
	c.mu.Unlock()
	var in Info
	if err := c.do(ctx, http.MethodGet, "/v1/info", nil, anonymous, &in); err != nil {
		return nil, err
	}
	if err := in.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("directory info: %w", err)
	}
	if in.Keys.ID() != in.ID {
		return nil, fmt.Errorf("directory info: keys hash to %s, not the announced %s", in.Keys.ID(), in.ID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fp == "" {
		c.fp = in.ID
	}
	if in.ID != c.fp {
		return nil, fmt.Errorf("directory info: id %s is not the pinned %s: %w", in.ID, c.fp, identity.ErrWrongPeer)
	}
	c.info = &in
	out := in
	return &out, nil
}

// CreateAccount creates an account with a password (at least 8 characters).
func (c *Client) CreateAccount(ctx context.Context, account, password string) error {
	return c.do(ctx, http.MethodPost, "/v1/accounts", createAccountRequest{Account: account, Password: password}, anonymous, nil)
}

// EnrollDevice enrolls the client's device key under the account, proving
// both the account's password and possession of the device key. A name
// the directory would refuse (CheckDeviceName) is refused here with its
// words, before anything is sent.
func (c *Client) EnrollDevice(ctx context.Context, account, password, deviceName string) error {
	if c.dev == nil {
		return errNoDevice
	}
	name, err := CheckDeviceName(deviceName) // the directory's own refusal, without the round trip
	if err != nil {
		return err
	}
	req := enrollRequest{Account: account, Password: password, Name: name, Keys: c.dev.Public()}
	return c.do(ctx, http.MethodPost, "/v1/devices", req, signedOnly, nil)
}

// Devices lists the devices of the client's account.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	var r devicesResponse
	if err := c.do(ctx, http.MethodGet, "/v1/devices", nil, asDevice, &r); err != nil {
		return nil, err
	}
	return r.Devices, nil
}

// RevokeDevice revokes a device of the client's account: it gets no new
// licenses and its requests are refused.
func (c *Client) RevokeDevice(ctx context.Context, id identity.ID) error {
	return c.do(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(string(id)), nil, asDevice, nil)
}

// LeaveAccount takes the client's device out of account, the one it is
// enrolled under (409 if it is not): its enrollment, announcement and
// holdings go at the directory, and the device may then enroll under
// another account. Licenses issued under account stay what they were:
// the directory issues new ones only to the device's account of the day.
func (c *Client) LeaveAccount(ctx context.Context, account string) error {
	if c.dev == nil {
		return errNoDevice
	}
	return c.do(ctx, http.MethodPost, "/v1/devices/leave", leaveRequest{Account: account}, asDevice, nil)
}

// Whois tells which account a device belongs to.
func (c *Client) Whois(ctx context.Context, id identity.ID) (*Device, error) {
	var d Device
	if err := c.do(ctx, http.MethodGet, "/v1/devices/"+url.PathEscape(string(id)), nil, asDevice, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Titles searches the catalog (name and artist, case-insensitive; "" lists
// all). page counts from 1; perPage is at most 100.
func (c *Client) Titles(ctx context.Context, query string, page, perPage int) (titles []Title, total int, err error) {
	v := url.Values{}
	v.Set("q", query)
	v.Set("page", strconv.Itoa(page))
	v.Set("per_page", strconv.Itoa(perPage))
	var r titlesResponse
	// Signed when this client has a device, so the directory also lists
	// the titles only its household sees.
	if err := c.do(ctx, http.MethodGet, "/v1/titles?"+v.Encode(), nil, c.ifDevice(), &r); err != nil {
		return nil, 0, err
	}
	for i := range r.Titles {
		r.Titles[i].plain()
	}
	return r.Titles, r.Total, nil
}

// Title fetches one title.
func (c *Client) Title(ctx context.Context, id string) (*Title, error) {
	var t Title
	if err := c.do(ctx, http.MethodGet, "/v1/titles/"+url.PathEscape(id), nil, c.ifDevice(), &t); err != nil {
		return nil, err
	}
	t.plain()
	return &t, nil
}

// Manifest fetches the signed manifest of content and verifies the
// directory's signature and that it describes content.
func (c *Client) Manifest(ctx context.Context, content sealed.ContentID) (*sealed.Manifest, error) {
	in, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.raw(ctx, "/v1/manifests/"+content.String())
	if err != nil {
		return nil, err
	}
	m, err := sealed.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", content, err)
	}
	if err := m.Verify(in.Keys.Sign); err != nil {
		return nil, fmt.Errorf("verifying manifest %s: %w", content, err)
	}
	if m.ContentID() != content {
		return nil, fmt.Errorf("manifest is for %s, not %s: %w", m.ContentID(), content, sealed.ErrBadSignature)
	}
	return m, nil
}

// Register sends a sealed registration (purchase or free registration). It
// is idempotent: the registration's nonce is the idempotency key, so
// resending after a lost answer never charges twice.
func (c *Client) Register(ctx context.Context, r *license.SealedRegistration) (*Registered, error) {
	var out Registered
	// Anonymous: the registration is signed inside (the device's key over
	// its sealed bytes); the directory reads no request signature here.
	if err := c.do(ctx, http.MethodPost, "/v1/registrations", r, anonymous, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Relay forwards a requester's registration wrapped by this (supplier)
// device. The answer (license and receipt) is sealed to the requester and
// signed by the directory: the supplier passes it on unread
// (OpenRelayAnswer opens it).
func (c *Client) Relay(ctx context.Context, r *license.Relayed) (*license.SealedReply, error) {
	var out license.SealedReply
	// Anonymous: the wrapper is signed by this supplier inside.
	if err := c.do(ctx, http.MethodPost, "/v1/relay", r, anonymous, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// License asks for a (re-issued) license of content for the client's device;
// the device's account must own the title.
func (c *Client) License(ctx context.Context, content sealed.ContentID) (*license.License, error) {
	var l license.License
	if err := c.do(ctx, http.MethodGet, "/v1/licenses/"+content.String(), nil, asDevice, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Announce is the device's heartbeat: addresses, holdings with policies and
// load. Send it again before the expiry the server documents (90 s by default).
func (c *Client) Announce(ctx context.Context, a Announcement) error {
	return c.announce(ctx, "/v1/announce", a, nil)
}

// Withdraw removes the device from the supplier lists (going offline).
func (c *Client) Withdraw(ctx context.Context) error {
	c.mu.Lock()
	c.lastHeld = nil // the directory forgets them: the next announcement says them in full
	c.mu.Unlock()
	return c.do(ctx, http.MethodDelete, "/v1/announce", nil, asDevice, nil)
}

// Suppliers lists the active suppliers of content that allow this device,
// best first (at most DefaultSuppliers); the origin store, when it has the
// content, comes last.
func (c *Client) Suppliers(ctx context.Context, content sealed.ContentID) ([]Supplier, error) {
	return c.SuppliersN(ctx, content, 0)
}

// SuppliersN is Suppliers answering at most n devices (0 = DefaultSuppliers,
// at most MaxSuppliers) plus the origin.
func (c *Client) SuppliersN(ctx context.Context, content sealed.ContentID, n int) ([]Supplier, error) {
	var pb [len("/v1/suppliers/") + 2*len(sealed.ContentID{})]byte
	path := string(hex.AppendEncode(append(pb[:0], "/v1/suppliers/"...), content[:]))
	if n > 0 {
		path += "?limit=" + strconv.Itoa(n)
	}
	var r suppliersResponse // asks for SuppliersMediaType (binaryAnswer)
	if err := c.do(ctx, http.MethodGet, path, nil, asDevice, &r); err != nil {
		return nil, err
	}
	return r.Suppliers, nil
}

// Origin reads ciphertext bytes [off, off+n) of content from the origin
// store (n <= 0: to the end). The caller closes the reader.
func (c *Client) Origin(ctx context.Context, content sealed.ContentID, off, n int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("origin read of %s: negative offset %d", content, off)
	}
	resp, err := c.sendBuilt(func() (*http.Request, error) {
		req, err := c.newRequest(ctx, http.MethodGet, "/v1/content/"+content.String(), nil, c.ifDevice(), "")
		if err != nil {
			return nil, err
		}
		req.Header = req.Header.Clone() // it may be the shared connHeader
		if n > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
		} else if off > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		}
		return req, nil
	})
	if err != nil {
		return nil, fmt.Errorf("origin read of %s: %w", content, err)
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusOK && off == 0:
	default:
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp.Body, nil
}
