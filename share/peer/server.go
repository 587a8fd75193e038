package peer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// ProtoVersion is the peer protocol version spoken here (hello's "proto").
const ProtoVersion = 1

// Accounts tells which account an enrolled, unrevoked device of this
// device's directory belongs to; for any other device it returns an error
// wrapping ErrNotEnrolled (an empty account counts as not enrolled too).
// The server gives nothing but hello to a device it cannot place in an
// account (a failed lookup included), and needs the account for
// "household" and account entries in policies. The server caches answers
// (LookupLimits), so implementations need not.
type Accounts interface {
	Account(ctx context.Context, device identity.ID) (string, error)
}

// Relayer forwards a relayed registration to the directory
// (*directory.Client implements it). The answer is sealed to the requester.
type Relayer interface {
	Relay(ctx context.Context, r *license.Relayed) (*license.SealedReply, error)
}

// Upload describes one served request, for ledgers and swarm views.
type Upload struct {
	Peer      identity.ID
	ContentID sealed.ContentID
	Bytes     int64
	Duration  time.Duration
}

// DefaultMaxUploads is a device's upload slots: how many chunk or content
// answers it sends at once to other accounts' devices (its household's
// are not counted: acquire). A request beyond them is answered busy, and
// its asker takes the chunk from another source or comes back in 200 ms.
// Few slots make each chunk leave fast: an uplink split among many
// answers finishes all of them late, and a device passes a chunk on only
// once it has it whole. This is BitTorrent's choking (its first client
// uploaded to four peers at a time). In the simulator (2.5 MB/s up, 12.5
// down, 20 ms links; medians of 3 seeds), 8 slots against the 32 before:
// 8 MiB N=200 all done in 5.39 s against 6.92 (p99 5.38 against 6.82),
// N=1,000 with 10 % churn and 30 % free riders p99 8.23 s against 10.23,
// N=10 median 4.46 s against 4.52; 64 MiB titles' medians 10 % sooner,
// their last within 3 %. On one machine (BenchmarkFlashCrowd, CPU-bound
// on loopback) 8 and 64 slots were within the noise.
const DefaultMaxUploads = 8

// ServerOptions configure a Server.
type ServerOptions struct {
	Identity  *identity.Identity // required
	Library   *library.Library   // required
	Name      string             // device name shown in hello
	Directory identity.ID        // directory fingerprint shown in hello
	Owner     string             // this device's account (for household policies)
	Accounts  Accounts           // nil: no device is enrolled, so nobody gets anything but hello
	Lookups   LookupLimits       // caching and rate limits of Accounts lookups
	Relayer   Relayer            // nil: relay answers 501

	MaxUploads        int           // concurrent chunk/content responses to other accounts' devices (default DefaultMaxUploads)
	MaxUploadsPerPeer int           // concurrent per peer device (default 6)
	WriteTimeout      time.Duration // per response; slow readers are cut off (default 30 s)
	ReadHeaderTimeout time.Duration // default 10 s
	IdleTimeout       time.Duration // default 120 s
	VerifyUploads     bool          // re-hash chunks read from disk before sending them
	OnUpload          func(Upload)  // called after each chunk/range upload; must not block
	// Downloading tells /have whether this device is downloading cid itself.
	Downloading func(cid sealed.ContentID) bool
	// Fetching tells /have which chunks of cid this device's download is
	// getting from the origin right now (Fetcher.OriginChunks), so peers
	// polling us wait for them instead of asking the origin too; nil or a
	// nil answer: none.
	Fetching func(cid sealed.ContentID) library.Bitmap
	Logger   *slog.Logger
	Now      func() time.Time

	// holdUpload, if set (tests only), runs after a chunk or range has
	// been written and counted, before its handler returns: a test
	// holds a request there, with its answer on the wire, without
	// blocking OnUpload.
	holdUpload func()
}

// Server is a device's peer server: the chunk wire (chunkwire.go), HTTP/2
// or HTTP/1.1 over mutual TLS 1.3.
type Server struct {
	o       ServerOptions
	log     *slog.Logger
	mux     *http.ServeMux
	total   chan struct{}
	mu      sync.Mutex
	perPeer map[identity.ID]int
	active  int
	owner   string
	ledger  map[ledgerKey]int64 // uploads not yet in the library's ledger
	polled  map[sealed.ContentID]time.Time
	pollers map[pollKey]time.Time // last /have per (content, device)
	// Have polls held now (havewait.go): per (content, device), per
	// device, in total.
	held      map[pollKey]int
	heldPer   map[identity.ID]int
	heldTotal int
	// refused: per device holding polls, closed by Refuse so they end at
	// once instead of when their wait runs out.
	refused map[identity.ID]chan struct{}
	accts   *accountCache
	// WireProto2 connections devices dialled to us, by device: our
	// Clients to those devices send their requests on them.
	wires    map[identity.ID]map[*wireConn]struct{}
	serveCtx context.Context // Serve's, while it runs
	added    chan struct{}   // closed when a connection joins wires
}

// wireAdded is closed when a device next dials us with the wire both ways.
func (s *Server) wireAdded() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.added == nil {
		s.added = make(chan struct{})
	}
	return s.added
}

// serving is Serve's context while Serve runs, else nil (and nil for a
// nil s): a client of ours offers WireProto2 only while the peer's
// requests to us have handlers to go to.
func (s *Server) serving() context.Context {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serveCtx == nil || s.serveCtx.Err() != nil {
		return nil
	}
	return s.serveCtx
}

type pollKey struct {
	cid  sealed.ContentID
	peer identity.ID
}

// LastPolled is when another device last asked for our bitmap of cid: a
// sign that it downloads from us, so what we fetch spreads onward.
func (s *Server) LastPolled(cid sealed.ContentID) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.held { // a held poll is a poll going on now
		if k.cid == cid {
			return s.o.Now()
		}
	}
	return s.polled[cid]
}

// Connected reports whether the device has a WireProto2 connection to
// the server that can carry our requests to it (a Client with no
// address reaches it so: NewClient).
func (s *Server) Connected(id identity.ID) bool {
	for _, wc := range s.wiresFrom(id) {
		if wc.usable() {
			return true
		}
	}
	return false
}

// Pollers lists the devices that asked for our bitmap of cid since t:
// those downloading it from us. A download can connect back to them, so
// a device that joined a crowd late is not left with peers nobody uses.
func (s *Server) Pollers(cid sealed.ContentID, t time.Time) []identity.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []identity.ID
	for k, at := range s.pollers {
		if k.cid == cid && (!at.Before(t) || s.held[k] > 0) {
			out = append(out, k.peer)
		}
	}
	return out
}

// ForgetAccounts drops the cached accounts of callers. Call it after
// announcing changed policies: the directory tells a device the account of
// another account's device only when its announced policies name that
// account (a pseudonym otherwise), so earlier answers may be stale. The
// devices refused (Refuse) stay refused: a policy does not change that.
func (s *Server) ForgetAccounts() { s.accts.forget() }

// Expect tells the server the directory named these devices to us lately
// (the suppliers of a content we download): looking them up when they
// call is paid from LookupLimits.Expected, not the limits that keep
// strangers from spending the owner's quota.
func (s *Server) Expect(ids []identity.ID) { s.accts.expect(ids) }

// KnownAccounts tells the server which account devices are enrolled
// under, as the directory said outside a Whois (its suppliers answer
// names the account of the asker's own devices, and lists only enrolled,
// unrevoked ones): kept as a lookup's answer would be (LookupLimits.TTL),
// so those devices' calls cost no lookup. Only for answers of this
// server's directory: it trusts them as it trusts Accounts.
func (s *Server) KnownAccounts(accounts map[identity.ID]string) { s.accts.know(accounts) }

// Refuse tells the server the directory no longer vouches for device id
// (revoked, or no longer enrolled), as its owner learnt outside a
// caller's lookup: its calls are refused at once, where a kept answer
// would have served it for up to LookupLimits.TTL, its held Have polls
// end at once, refused (a held poll would otherwise tell it our state when
// its wait runs out), and a chunk permitted before and not yet being
// written is refused too (one being written finishes: handleChunk). Kept
// as a lookup's "not enrolled" is (NegativeTTL); then the directory is
// asked again. Until then no account is kept over it: not a lookup's in
// flight when Refuse came, nor KnownAccounts' (both may carry the
// directory's word from before the revocation).
func (s *Server) Refuse(id identity.ID) {
	s.accts.refuse(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.refused[id]; ok {
		close(ch)
		delete(s.refused, id)
	}
}

// SetDirectory sets the directory fingerprint hello shows, for a device
// that pairs with its directory after the server was built.
func (s *Server) SetDirectory(fp identity.ID) {
	s.mu.Lock()
	s.o.Directory = fp
	s.mu.Unlock()
}

// SetOwner sets the account owning this device (for household policies).
func (s *Server) SetOwner(account string) {
	s.mu.Lock()
	s.owner = account
	s.mu.Unlock()
}

// NewServer checks the options and builds a server; Serve runs it.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Identity == nil || o.Library == nil {
		return nil, errors.New("peer server: Identity and Library are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxUploads <= 0 {
		o.MaxUploads = DefaultMaxUploads
	}
	if o.MaxUploadsPerPeer <= 0 {
		o.MaxUploadsPerPeer = 6
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, log: o.Logger, mux: http.NewServeMux(), total: make(chan struct{}, o.MaxUploads), perPeer: map[identity.ID]int{}, owner: o.Owner,
		accts: newAccountCache(o.Accounts, o.Lookups, o.Now)}
	s.mux.HandleFunc("GET /kith/v1/hello", s.handleHello)
	s.mux.HandleFunc("GET /kith/v1/offer", s.handleOffer)
	s.mux.HandleFunc("GET /kith/v1/manifest/{cid}", s.handleManifest)
	s.mux.HandleFunc("GET /kith/v1/have/{cid}", s.handleHave)
	s.mux.HandleFunc("GET /kith/v1/chunks/{cid}/{i}", s.handleChunk)
	s.mux.HandleFunc("GET /kith/v1/content/{cid}", s.handleContent)
	s.mux.HandleFunc("POST /kith/v1/relay", s.handleRelay)
	return s, nil
}

// Handler is the server's http.Handler; requests must carry a verified
// client certificate (r.TLS), as Serve arranges.
func (s *Server) Handler() http.Handler { return s.mux }

// Load is the number of uploads in progress.
func (s *Server) Load() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// TLSConfig is the server's TLS config: TLS 1.3, a client device
// certificate required, HTTP/2 or HTTP/1.1 (an http.Server serving it
// must have HTTP/2 enabled: Serve does).
//
// Answers go out in full-size TLS records (16 KiB) from a connection's
// first byte, as a Client's do on a both-ways connection. crypto/tls
// otherwise sends a connection's first 128 KB in records one packet long,
// then two, and so on (dynamic record sizing: a browser paints the top of
// a page sooner), which buys nothing for a chunk read whole, while the
// receiving end's crypto/tls grows its input buffer for each bigger
// record: about 14 reallocations, 200 KB allocated and zeroed per
// connection end, where full records from the start need two
// (BenchmarkFlashCrowd's 8 MiB N=200: 146 MB of its children's 530 MB
// allocated, about 5 % of their CPU).
func (s *Server) TLSConfig() *tls.Config {
	cfg := s.o.Identity.ServerTLS(nil)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	cfg.DynamicRecordSizingDisabled = true
	return cfg
}

// wireTLSConfig is TLSConfig offering the chunk wire first (Serve
// serves it; an http.Server of the Handler alone does not).
func (s *Server) wireTLSConfig() *tls.Config {
	cfg := s.TLSConfig()
	cfg.NextProtos = append([]string{WireProto2, WireProto}, cfg.NextProtos...)
	return cfg
}

// connCtx is the context of a connection net/http hands to a TLSNextProto
// function (its ConnContext's, with the connection's connPeer), else ctx.
func connCtx(ctx context.Context, h http.Handler) context.Context {
	if b, ok := h.(interface{ BaseContext() context.Context }); ok {
		return b.BaseContext()
	}
	return context.WithValue(ctx, connPeerKey{}, new(connPeer))
}

// maxStreams caps the requests one HTTP/2 or chunk-wire connection has
// open at once (beyond the upload limits, which answer 503, requests wait
// for a stream at the client).
const maxStreams = 32

// Serve answers peers on ln until ctx is cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	s.mu.Lock()
	s.serveCtx = ctx
	s.mu.Unlock()
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         s.wireTLSConfig(),
		Protocols:         serverProtocols(),
		// The chunk wire beside HTTP/2 (which net/http adds to the map).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){
			WireProto: func(_ *http.Server, tc *tls.Conn, h http.Handler) {
				s.serveWire(connCtx(ctx, h), tc)
			},
			WireProto2: func(_ *http.Server, tc *tls.Conn, h http.Handler) {
				s.serveBoth(connCtx(ctx, h), tc)
			},
		},
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: maxStreams,
			// A connection whose reader stopped reading is closed (the
			// write deadline of each answer cuts one stream).
			WriteByteTimeout: s.o.WriteTimeout,
		},
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: connContext,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(corkListener{ln}, "", "") }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			s.FlushLedger()
			return fmt.Errorf("peer server: %w", err)
		case <-tick.C:
			if err := s.FlushLedger(); err != nil {
				s.log.Warn("peer: ledger", "err", err)
			}
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				hs.Close()
			}
			<-errc
			if err := s.FlushLedger(); err != nil {
				s.log.Warn("peer: ledger", "err", err)
			}
			return nil
		}
	}
}

func serverProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return p
}

// caller is the verified device ID of the request's client. On a
// connection Serve accepted it is worked out once per connection (connPeer)
// rather than once per request: hashing the key into an ID, with the stack
// growth it brought a fresh handler goroutine, was an eighth of the CPU of
// a /have poll (BenchmarkRequest).
func caller(r *http.Request) (identity.ID, error) {
	if r.TLS == nil {
		return "", errors.New("no TLS")
	}
	if cp, ok := r.Context().Value(connPeerKey{}).(*connPeer); ok {
		return cp.id(r.TLS)
	}
	id, _, err := identity.PeerID(*r.TLS)
	return id, err
}

// connPeerKey is the context key of a connection's connPeer.
type connPeerKey struct{}

// connPeer is the verified device ID of one connection's client, worked
// out from the connection's completed handshake on its first request. A
// TLS 1.3 connection's peer certificate cannot change after the handshake
// (crypto/tls does no renegotiation and no post-handshake authentication),
// and every request on the connection carries that handshake's state, so
// the first answer holds for all of them. A failure is not kept: the next
// request works it out again.
type connPeer struct {
	mu   sync.Mutex
	peer identity.ID
}

func (cp *connPeer) id(cs *tls.ConnectionState) (identity.ID, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.peer != "" {
		return cp.peer, nil
	}
	id, _, err := identity.PeerID(*cs)
	if err != nil {
		return "", err
	}
	cp.peer = id
	return id, nil
}

// connContext gives each accepted connection its connPeer.
func connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connPeerKey{}, new(connPeer))
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// forbidden is the one answer for "not held" and "not allowed", so an
// excluded device learns nothing about holdings.
func forbidden(w http.ResponseWriter) { httpError(w, http.StatusForbidden, "forbidden") }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return
	}
}
