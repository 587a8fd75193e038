package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/share/identity"
)

// Version is the directory software version reported by GET /v1/info.
const Version = "0.1.0"

// Defaults for Options fields left zero.
const (
	DefaultReplayWindow      = 30 * time.Second
	DefaultAnnounceTTL       = 90 * time.Second
	DefaultMaxBody           = 256 << 10 // registrations and relays; account creation and enrollment get 16 KiB
	DefaultMaxAnnounceBody   = 8 << 20
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultRateIP            = 200 // requests per second per client IP
	DefaultRateDevice        = 50  // requests per second per device
	DefaultRateAuth          = 5   // password attempts (account creation, enrollment) per second per client IP
)

// Options configures a Server.
type Options struct {
	Identity  *identity.Identity // the directory's own keys (required)
	Store     Store              // required
	OriginDir string             // origin store: sealed files named by content ID (required)
	Name      string             // shown in /v1/info
	// Payments charges priced titles; nil uses a TestProcessor (keeping
	// its charges in the Store when it is a ChargeLedger).
	Payments PaymentProcessor
	// Webhook receives billing events (at least once); "" keeps them in the
	// outbox for `billing export`.
	Webhook       string
	WebhookSecret []byte
	// WebhookClient posts to the webhook; nil = a client with a 10 s timeout.
	WebhookClient *http.Client
	// OutboxLease is how long this instance holds the billing events it
	// claimed before another instance sharing the database may post them;
	// 0 = each event's webhook timeout (10 s) times the batch (16) + 30 s.
	OutboxLease time.Duration
	Logger      *slog.Logger
	Now         func() time.Time // nil = time.Now

	ReplayWindow      time.Duration // signed requests older or newer than this are refused
	AnnounceTTL       time.Duration // suppliers drop out this long after their last heartbeat
	MaxBody           int64         // request body limit (announcements get MaxAnnounceBody)
	MaxAnnounceBody   int64
	ReadHeaderTimeout time.Duration
	// RateIP and RateDevice are sustained requests per second (bursts of
	// twice as many); 0 = default, negative = unlimited.
	RateIP, RateDevice float64
	// RateAuth limits password-checking requests (account creation and
	// device enrollment) per client IP, on top of RateIP; 0 = default,
	// negative = unlimited.
	RateAuth float64
	// Publish says who may publish titles from their own devices
	// (POST /v1/publish); the zero value turns it off. SetPublishPolicy
	// changes it while serving.
	Publish PublishPolicy
	// MetricsToken, when set, lets GET /metrics on the API listener answer
	// requests carrying "Authorization: Bearer <MetricsToken>"; unset, the
	// API listener has no /metrics (serve MetricsHandler on an admin
	// listener instead): registrations, charges and per-title bytes are
	// not public.
	MetricsToken string
	// RateAccountGuesses and RateGuesses limit wrong passwords per second
	// per account (bursts of DefaultAccountGuessBurst) and over all
	// accounts (bursts of twice as many): once spent, a guess is refused
	// before its argon2id check, from any address. 0 = default, negative =
	// unlimited.
	RateAccountGuesses, RateGuesses float64
	// MaxPasswordChecks caps argon2id computations at once (19 MiB each);
	// 0 = DefaultMaxPasswordChecks.
	MaxPasswordChecks int
	// MaxInFlight caps requests handled at once, announcements and
	// withdrawals at half of it; 0 = DefaultMaxInFlight.
	MaxInFlight int
	// MaxConns caps connections open at once to the listener Serve is
	// given (more are closed on accept); 0 = DefaultMaxConns.
	MaxConns int
	// MaxBodyInFlight and MaxBodyPerClient cap the request body bytes held
	// in memory at once, in total and per client (IPv4 address or IPv6
	// /64); 0 = defaults.
	MaxBodyInFlight, MaxBodyPerClient int64
	// MaxHoldingsPerDevice caps one device's announced holdings (0 =
	// MaxHoldings); MaxHoldingsTotal caps the holdings of every online
	// device together (0 = DefaultMaxHoldingsTotal).
	MaxHoldingsPerDevice, MaxHoldingsTotal int
	// MaxDevices caps the devices one account has enrolled at once
	// (revoked ones do not count); 0 = DefaultMaxDevices, negative = no
	// cap. A device over it is refused (403 device_limit) until one is
	// removed.
	MaxDevices int
	// JoinCodeFile is where `kith-directory pair-code` leaves join codes
	// (package pairing); "" = only codes issued through Pairer().Issue.
	JoinCodeFile string
	// Origin decides which origin-store reads to serve while a crowd can
	// supply a content instead (super-seeding); nil: a default budget.
	Origin *OriginBudget
	// Relay, when set, is the relay offered to suppliers the directory
	// cannot reach directly (it then checks each announcing device's
	// reachability) and the relay its tickets are for.
	Relay *RelayInfo
}

// Server is the directory: an http.Handler for the /v1 API plus the billing
// outbox delivery run by Serve.
type Server struct {
	o        Options
	id       *identity.Identity
	st       Store
	log      *slog.Logger
	now      func() time.Time
	pay      PaymentProcessor
	mux      *http.ServeMux
	metrics  *metrics
	replay   *replayCache
	ipLimit  *limiter
	devLim   *limiter
	authLim  *limiter
	pw       *passwordGuard
	bodies   *bodyBudget
	inflight chan struct{}
	// announcing caps announcements and withdrawals in flight at half of
	// inflight's slots (see wrap).
	announcing chan struct{}
	devices    *ttlCache[identity.ID, Device]
	titles     *ttlCache[string, *TitleRecord] // for registrations
	members    memberLocks                     // one device's enrollment changes against its announcements
	askers     *ttlCache[identity.ID, *AnnounceRecord]
	written    *ttlCache[identity.ID, writtenRow] // announcements this instance stored (heartbeat.go)
	idx        *onlineIndex
	flight     singleflight.Group
	keys       keyCache // content keys opened for licenses
	origins    originCache
	publish    publishPolicy
	wake       chan struct{} // pokes the outbox loop
	pair       *pairing.Pairer
	reach      *reachability

	mu      sync.Mutex
	started bool
}

// NewServer checks o and builds a Server; it starts nothing.
func NewServer(o Options) (*Server, error) {
	if o.Identity == nil || o.Store == nil || o.OriginDir == "" {
		return nil, errors.New("directory server: Identity, Store and OriginDir are required")
	}
	dummyHash() // now, not at the first unknown account (see dummyHash)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Origin == nil {
		o.Origin = &OriginBudget{}
	}
	if o.Payments == nil {
		if l, ok := o.Store.(ChargeLedger); ok {
			o.Payments = NewLedgerTestProcessor(l) // charged once across instances and restarts
		} else {
			o.Payments = NewTestProcessor()
		}
	}
	if o.Name == "" {
		o.Name = "Kith directory"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReplayWindow, DefaultReplayWindow)
	def(&o.AnnounceTTL, DefaultAnnounceTTL)
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxAnnounceBody <= 0 {
		o.MaxAnnounceBody = DefaultMaxAnnounceBody
	}
	if o.RateIP == 0 {
		o.RateIP = DefaultRateIP
	}
	if o.RateDevice == 0 {
		o.RateDevice = DefaultRateDevice
	}
	if o.RateAuth == 0 {
		o.RateAuth = DefaultRateAuth
	}
	if o.RateAccountGuesses == 0 {
		o.RateAccountGuesses = DefaultRateAccountGuesses
	}
	if o.RateGuesses == 0 {
		o.RateGuesses = DefaultRateGuesses
	}
	if o.MaxPasswordChecks <= 0 {
		o.MaxPasswordChecks = DefaultMaxPasswordChecks
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxBodyInFlight <= 0 {
		o.MaxBodyInFlight = DefaultMaxBodyInFlight
	}
	if o.MaxBodyPerClient <= 0 {
		o.MaxBodyPerClient = DefaultMaxBodyPerClient
	}
	if o.MaxHoldingsPerDevice <= 0 || o.MaxHoldingsPerDevice > MaxHoldings {
		o.MaxHoldingsPerDevice = MaxHoldings
	}
	if o.MaxHoldingsTotal <= 0 {
		o.MaxHoldingsTotal = DefaultMaxHoldingsTotal
	}
	if o.MaxDevices == 0 {
		o.MaxDevices = DefaultMaxDevices
	}
	if o.WebhookClient == nil {
		o.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{
		o: o, id: o.Identity, st: o.Store, log: o.Logger, now: o.Now, pay: o.Payments,
		metrics:    newMetrics(),
		replay:     newReplayCache(),
		ipLimit:    newLimiter(o.RateIP, o.Now),
		devLim:     newLimiter(o.RateDevice, o.Now),
		authLim:    newLimiter(o.RateAuth, o.Now),
		pw:         newPasswordGuard(&o),
		bodies:     newBodyBudget(o.MaxBodyInFlight, o.MaxBodyPerClient),
		inflight:   make(chan struct{}, o.MaxInFlight),
		announcing: make(chan struct{}, max(1, o.MaxInFlight/2)),
		devices:    newTTLCache[identity.ID, Device](maxCachedDevices),
		titles:     newTTLCache[string, *TitleRecord](maxCachedTitles),
		askers:     newTTLCache[identity.ID, *AnnounceRecord](maxCachedAnnouncers),
		written:    newTTLCache[identity.ID, writtenRow](maxCachedAnnouncers),
		reach:      newReachability(),
		idx:        newOnlineIndex(),
		wake:       make(chan struct{}, 1),
	}
	if err := s.SetPublishPolicy(o.Publish); err != nil {
		return nil, err
	}
	var err error
	if s.pair, err = newPairer(o); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// ID is the directory's fingerprint.
func (s *Server) ID() identity.ID { return s.id.ID() }

// ServeHTTP serves the /v1 API, /healthz and /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// TLSConfig is the server's TLS 1.3 configuration: the certificate made from
// the directory key (its hash is the fingerprint clients pin), and a device
// certificate asked of the client but not required. A client that presents
// one must present exactly one self-signed ed25519 certificate, valid now,
// whose key it proves it holds (TLS CertificateVerify), or the handshake
// fails; its requests may then be authenticated by the connection instead
// of a signature each (see "Authentication by connection" in doc.go).
// Its answers go out in full-size TLS records from a connection's first
// byte: crypto/tls's dynamic record sizing sends the first 128 KB in
// records a packet bigger each (for a browser's first paint), and the
// receiving device's crypto/tls reallocates its input buffer for each
// bigger one (about 14 times, 200 KB allocated and zeroed a connection),
// which buys nothing for an origin download or a manifest read whole.
func (s *Server) TLSConfig() (*tls.Config, error) {
	if _, err := s.id.Certificate(); err != nil {
		return nil, fmt.Errorf("directory certificate: %w", err)
	}
	cfg := s.id.ServerTLS(identity.AllowNoClientCert)
	cfg.NextProtos = []string{"http/1.1"}
	cfg.DynamicRecordSizingDisabled = true
	return cfg, nil
}

// Serve serves HTTPS on ln, loads who is online from the store (supplier
// lookups wait for it), delivers the billing outbox and drops expired
// announcements until ctx ends, then shuts down gracefully (in-flight
// requests get 10 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("directory server: Serve called twice")
	}
	s.started = true
	s.mu.Unlock()
	cfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext:       withConnInfo,
	}
	g, gctx := errgroup.WithContext(ctx)
	feedStarted := make(chan struct{})
	if feed, ok := s.st.(SharedStore); ok {
		g.Go(func() error { return s.runFeed(gctx, feed, feedStarted) })
	} else {
		close(feedStarted)
	}
	g.Go(func() error {
		<-feedStarted
		if err := s.loadOnline(gctx); err != nil && gctx.Err() == nil {
			return err
		}
		return s.runSweeper(gctx)
	})
	g.Go(func() error {
		capped := &capListener{Listener: ln, max: int64(s.o.MaxConns), refused: func() { s.metrics.busy.add("connection", 1) }}
		err := hs.Serve(tls.NewListener(capped, cfg))
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving https: %w", err)
	})
	g.Go(func() error { return s.runOutbox(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	return g.Wait()
}

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	pub := func(pattern, route string, h handlerFunc) { m.Handle(pattern, s.wrap(route, false, h)) }
	auth := func(pattern, route string, h handlerFunc) { m.Handle(pattern, s.wrap(route, true, h)) }

	pub("GET /v1/info", "info", s.handleInfo)
	pub("POST /v1/accounts", "accounts", s.handleCreateAccount)
	pub("POST /v1/devices", "enroll", s.handleEnroll)
	auth("GET /v1/devices", "devices", s.handleDevices)
	auth("GET /v1/devices/{id}", "whois", s.handleWhois)
	auth("DELETE /v1/devices/{id}", "revoke", s.handleRevoke)
	auth("POST /v1/devices/leave", "leave", s.handleLeave)
	pub("GET /v1/titles", "titles", s.handleTitles)
	pub("GET /v1/titles/{id}", "title", s.handleTitle)
	pub("GET /v1/titles/{id}/artwork", "artwork", s.handleArtwork)
	auth("POST /v1/publish", "publish", s.handlePublish)
	pub("GET /v1/manifests/{content}", "manifest", s.handleManifest)
	pub("POST /v1/registrations", "register", s.handleRegister)
	pub("POST /v1/relay", "relay", s.handleRelay)
	auth("GET /v1/licenses/{content}", "license", s.handleLicense)
	auth("POST /v1/announce", "announce", s.handleAnnounce)
	auth("DELETE /v1/announce", "withdraw", s.handleWithdraw)
	auth("GET /v1/suppliers/{content}", "suppliers", s.handleSuppliers)
	auth("POST /v1/relay/ticket", "relay_ticket", s.handleTicket)
	pub("GET /v1/content/{content}", "content", s.handleContent)
	pub("GET /healthz", "healthz", s.handleHealth)
	pub("GET /metrics", "metrics", s.handleMetrics)
	s.pairRoutes(pub)
	pub("/", "unknown", func(w http.ResponseWriter, r *http.Request, _ *request) error {
		return newError(http.StatusNotFound, CodeNotFound, "no endpoint %s %s", r.Method, r.URL.Path)
	})
}
