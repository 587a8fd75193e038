package peer

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
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

	MaxUploads        int           // concurrent chunk/content responses in total (default 32)
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
	accts     *accountCache
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
// account (a pseudonym otherwise), so earlier answers may be stale.
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
		o.MaxUploads = 32
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
func (s *Server) TLSConfig() *tls.Config {
	cfg := s.o.Identity.ServerTLS(nil)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	return cfg
}

// wireTLSConfig is TLSConfig offering the chunk wire first (Serve
// serves it; an http.Server of the Handler alone does not).
func (s *Server) wireTLSConfig() *tls.Config {
	cfg := s.TLSConfig()
	cfg.NextProtos = append([]string{WireProto}, cfg.NextProtos...)
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
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         s.wireTLSConfig(),
		Protocols:         serverProtocols(),
		// The chunk wire beside HTTP/2 (which net/http adds to the map).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){WireProto: func(_ *http.Server, tc *tls.Conn, h http.Handler) {
			s.serveWire(connCtx(ctx, h), tc)
		}},
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

// Hello is the answer of GET /kith/v1/hello.
type Hello struct {
	Device    identity.ID `json:"device"`
	Name      string      `json:"name"`
	Directory identity.ID `json:"directory"`
	Proto     int         `json:"proto"`
}

func (s *Server) handleHello(w http.ResponseWriter, r *http.Request) {
	if _, err := caller(r); err != nil {
		httpError(w, http.StatusUnauthorized, "client certificate required")
		return
	}
	s.mu.Lock()
	fp := s.o.Directory
	s.mu.Unlock()
	writeJSON(w, Hello{Device: s.o.Identity.ID(), Name: cleanText(s.o.Name, maxHelloName), Directory: fp, Proto: ProtoVersion})
}

// Offer is one title a device offers to the caller.
type Offer struct {
	Content   sealed.ContentID `json:"content"`
	TitleID   string           `json:"title,omitempty"`
	Name      string           `json:"name,omitempty"`
	Artist    string           `json:"artist,omitempty"`
	MediaType string           `json:"media_type,omitempty"`
	Size      int64            `json:"size"`     // sealed file size
	Chunks    int              `json:"chunks"`   // chunks in the manifest
	Have      int              `json:"have"`     // chunks held
	Complete  bool             `json:"complete"` // every chunk held
}

// enrolled returns the verified caller and its account. Peers fail
// closed: a caller that is not an enrolled, unrevoked device of this
// directory gets 403 (the answer for "not allowed"), one whose lookup
// failed or was rate-limited 503 with Retry-After; ok is false then and
// the answer has been written.
func (s *Server) enrolled(w http.ResponseWriter, r *http.Request) (peer identity.ID, account string, ok bool) {
	peer, err := caller(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, "client certificate required")
		return "", "", false
	}
	account, err = s.accts.account(r.Context(), peer, r.RemoteAddr)
	switch {
	case err == nil:
		return peer, account, true
	case errors.Is(err, ErrNotEnrolled):
		s.log.Debug("peer: refusing a device that is not enrolled", "device", peer, "addr", r.RemoteAddr, "err", err)
		forbidden(w)
	case errors.Is(err, errLookupLimited):
		s.log.Debug("peer: device lookups limited", "device", peer, "addr", r.RemoteAddr)
		w.Header().Set("Retry-After", "15")
		httpError(w, http.StatusServiceUnavailable, "too many unknown devices; retry later")
	default:
		s.log.Warn("peer: looking up a device failed", "device", peer, "err", err)
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "cannot check this device with the directory; retry later")
	}
	return "", "", false
}

func (s *Server) allows(p library.Policy, peer identity.ID, account string) bool {
	s.mu.Lock()
	owner := s.owner
	s.mu.Unlock()
	return directory.Policy(p).Allows(owner, peer, account)
}

func (s *Server) handleOffer(w http.ResponseWriter, r *http.Request) {
	peer, acct, ok := s.enrolled(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	pols, err := s.o.Library.Policies(ctx)
	if err != nil {
		if ended(w, r) {
			return
		}
		s.log.Error("peer: offer", "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	def, ok := pols[""]
	if !ok {
		def = library.DefaultPolicy
	}
	held, err := s.o.Library.HeldContent(ctx)
	if err != nil {
		if ended(w, r) {
			return
		}
		s.log.Error("peer: offer", "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	offers := []Offer{}
	for _, h := range held {
		if h.Have == 0 {
			continue
		}
		base := Offer{Content: h.ContentID, Size: h.Size, Chunks: h.Total, Have: h.Have, Complete: h.Complete}
		if len(h.Titles) == 0 {
			if s.allows(def, peer, acct) {
				offers = append(offers, base)
			}
			continue
		}
		for _, t := range h.Titles {
			p, ok := pols[t.ID]
			if !ok {
				p = def
			}
			if !s.allows(p, peer, acct) {
				continue
			}
			o := base
			o.TitleID, o.Name, o.Artist, o.MediaType = cleanText(t.ID, maxOfferText), cleanText(t.Name, maxOfferText),
				cleanText(t.Artist, maxOfferText), cleanText(t.MediaType, maxOfferText)
			offers = append(offers, o)
		}
	}
	if len(offers) == 0 && !s.allows(def, peer, acct) {
		forbidden(w)
		return
	}
	b, dropped := encodeOffers(offers)
	if dropped > 0 {
		s.log.Warn("peer: offer cut to what a client accepts", "offers", len(offers), "dropped", dropped)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// permit resolves {cid} and checks the caller may copy it; on false the
// answer (400 or 403) has been written.
func (s *Server) permit(w http.ResponseWriter, r *http.Request) (identity.ID, sealed.ContentID, bool) {
	cid, err := sealed.ParseContentID(r.PathValue("cid"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "bad content id")
		return "", cid, false
	}
	peer, acct, ok := s.enrolled(w, r)
	if !ok {
		return "", cid, false
	}
	ctx := r.Context()
	// Known content counts as held even before its first chunk arrives (a
	// crowd downloading together polls each other from the start).
	if _, err := s.o.Library.Status(ctx, cid); err != nil {
		forbidden(w)
		return "", cid, false
	}
	p, err := s.o.Library.ContentPolicy(ctx, cid)
	if err != nil || !s.allows(p, peer, acct) {
		forbidden(w)
		return "", cid, false
	}
	return peer, cid, true
}

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request) {
	_, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	b, err := s.o.Library.ManifestBytes(r.Context(), cid)
	if err != nil {
		forbidden(w)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// Response headers of /have (and of chunk answers that carry the state).
const (
	HaveHeader        = "Kith-Complete"    // "true" when every chunk is held
	DownloadingHeader = "Kith-Downloading" // "true" while this device downloads the content itself
	// HaveBitsHeader, on a chunk answer of a partial holder, is its /have
	// body (the have bitmap, then the fetching bitmap) in unpadded
	// base64url: the requester learns what the peer gained since its last
	// poll without asking, and polls it no more while it serves it.
	HaveBitsHeader = "Kith-Have-Bits"
)

// maxCarriedHave is the longest have bitmap a chunk answer carries
// (8,192 chunks, 2 GiB at the default chunk size: about 2.7 KiB of header);
// the holders of longer contents are polled, as every holder was before.
const maxCarriedHave = 1 << 10

// haveState is what /have answers about cid, and notes that peer asked
// (LastPolled, Pollers).
func (s *Server) haveState(ctx context.Context, peer identity.ID, cid sealed.ContentID) (have, fetching library.Bitmap, complete, downloading bool, err error) {
	s.notePoll(peer, cid)
	have, err1 := s.o.Library.Have(ctx, cid)
	st, err2 := s.o.Library.Status(ctx, cid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, false, false, err
	}
	if s.o.Fetching != nil {
		fetching = s.o.Fetching(cid)
	}
	if len(fetching) != len(have) {
		fetching = make(library.Bitmap, len(have))
	}
	return have, fetching, st.Complete, s.o.Downloading != nil && s.o.Downloading(cid), nil
}

// notePoll notes that peer asked for our state of cid now (LastPolled, Pollers).
func (s *Server) notePoll(peer identity.ID, cid sealed.ContentID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.polled == nil || len(s.polled) > 10000 {
		s.polled = map[sealed.ContentID]time.Time{}
	}
	if s.pollers == nil || len(s.pollers) > 10000 {
		s.pollers = map[pollKey]time.Time{}
	}
	s.polled[cid] = s.o.Now()
	s.pollers[pollKey{cid, peer}] = s.o.Now()
}

func (s *Server) handleHave(w http.ResponseWriter, r *http.Request) {
	peer, cid, ok := s.permit(w, r)
	if !ok {
		return
	}
	st, err := s.o.Library.Status(r.Context(), cid)
	if err != nil {
		forbidden(w)
		return
	}
	want, wait, err := haveWait(r.Header, st.Total)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if want != nil {
		s.notePoll(peer, cid) // a poller while it waits (Pollers, LastPolled)
		s.awaitWanted(r.Context(), peer, cid, want, wait)
	}
	if s.canHold(peer) {
		w.Header().Set(HaveHoldsHeader, "true")
	}
	have, fetching, complete, downloading, err := s.haveState(r.Context(), peer, cid)
	if err != nil {
		forbidden(w)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HaveHeader, strconv.FormatBool(complete))
	w.Header().Set(DownloadingHeader, strconv.FormatBool(downloading))
	w.Header().Set("Content-Length", strconv.Itoa(len(have)+len(fetching)))
	w.Write(have)
	w.Write(fetching)
}

// carryHave sets the headers that give a chunk answer our /have state
// (HaveBitsHeader): a complete holder says so, a partial one sends its
// bitmaps while they fit in maxCarriedHave.
func (s *Server) carryHave(w http.ResponseWriter, r *http.Request, peer identity.ID, cid sealed.ContentID) {
	have, fetching, complete, downloading, err := s.haveState(r.Context(), peer, cid)
	if err != nil || (!complete && len(have) > maxCarriedHave) {
		return
	}
	h := w.Header()
	h.Set(HaveHeader, strconv.FormatBool(complete))
	h.Set(DownloadingHeader, strconv.FormatBool(downloading))
	if !complete {
		h.Set(HaveBitsHeader, base64.RawURLEncoding.EncodeToString(append(have, fetching...)))
	}
}
