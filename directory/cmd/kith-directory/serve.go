package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/share/identity"
)

const serveHelp = `
Runs the directory over HTTPS until SIGINT or SIGTERM, then shuts down
gracefully (in-flight requests finish, the database is closed cleanly).
The first line on stdout is the URL to give players, with the fingerprint:
  https://host:port#FINGERPRINT
Logs are JSON lines on stderr. Billing events are delivered at least once to
--webhook, signed with the secret in --webhook-secret-file (or
KITH_DIRECTORY_WEBHOOK_SECRET; never on the command line, where every local
user can read it). Metrics are not public: serve them on an admin address
with --metrics-addr, or open /metrics on the API listener to a bearer token
with --metrics-token-file (or KITH_DIRECTORY_METRICS_TOKEN).
Devices may publish their own files (kithctl publish, the app's Add) only
when --device-publish is owner (devices of --owner's account) or accounts
(every account); their titles are free and listed to their household only.

The database is the embedded SQLite file DATA/directory.db unless --store
names a PostgreSQL database (postgres://...), which several instances can
share behind one address: each needs the same DATA/directory.key (serve
never creates it then; kith-directory migrate does, once) and its origin/
on a shared folder. Stay on SQLite while one machine carries the load: it
needs no server and commits in batches; move when you need a second
instance (README: "Moving from the embedded SQLite").

Examples:
  kith-directory serve --addr :8443 --data /var/lib/kith --metrics-addr 127.0.0.1:9464
  PGPASSFILE=/etc/kith/pgpass kith-directory serve --data /var/lib/kith \
      --store 'postgres://kith@db.internal/kith?sslmode=verify-full'    # one of several instances
  kith-directory serve --data /var/lib/kith --device-publish owner --owner home
  KITH_DIRECTORY_WEBHOOK=https://billing.example/kith \
      kith-directory serve --webhook-secret-file /etc/kith/webhook-secret
`

// paths of the data directory.
func dataPaths(dir string) (key, db, origin string) {
	return filepath.Join(dir, "directory.key"), filepath.Join(dir, "directory.db"), filepath.Join(dir, "origin")
}

// openData creates the data directory if needed and opens the identity and
// the store (spec: see storeHelp), checking that the database belongs to
// the identity. Warnings go to stderr.
func openData(ctx context.Context, dir, spec string, stderr io.Writer) (*identity.Identity, dirStore, string, bool, error) {
	if err := checkStoreSpec(spec); err != nil {
		return nil, nil, "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, "", false, fmt.Errorf("data directory: %w", err)
	}
	keyPath, _, origin := dataPaths(dir)
	id, created, err := loadDirectoryKey(keyPath, isPostgres(spec))
	if err != nil {
		return nil, nil, "", false, err
	}
	if err := os.MkdirAll(origin, 0o755); err != nil {
		return nil, nil, "", false, fmt.Errorf("origin store: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openDirStore(ctx, dir, spec, log)
	if err != nil {
		return nil, nil, "", false, err
	}
	if err := st.BindIdentity(ctx, id.ID(), time.Now()); err != nil {
		st.Close()
		return nil, nil, "", false, fmt.Errorf("checking that the database belongs to %s: %w", keyPath, err)
	}
	return id, st, origin, created, nil
}

// lockData takes the data folder's lock (internal/datadir, DATA/lock)
// for serve on the embedded SQLite store, held until serve returns: two
// directories on one directory.db would each keep their own view in
// memory (online devices and their announcements, caches), so a device
// would be seen by one and not the other. Instances sharing a PostgreSQL
// --store keep that view together and may share the folder (its
// directory.key and origin/): no lock then. The other subcommands
// (publish, pair-code, billing export) run beside serve and take none.
func lockData(dir, spec string) (unlock func(), err error) {
	if isPostgres(spec) {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err = datadir.Dir(dir).Lock()
	if errors.Is(err, datadir.ErrInUse) {
		return nil, fmt.Errorf("%w: --data %s is held by another process, likely another kith-directory serve (two directories on one database would each see only the devices that reach it): stop that one, or give this one another --data", datadir.ErrInUse, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", dir, err)
	}
	return unlock, nil
}

func floatEnv(key string, def float64) float64 {
	if v, err := strconv.ParseFloat(env(key, ""), 64); err == nil {
		return v
	}
	return def
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("serve", "serve [flags]", serveHelp, stderr)
	store := addStoreFlag(fs)
	addr := fs.String("addr", env("ADDR", ":8443"), "listen address host:port (env KITH_DIRECTORY_ADDR)")
	name := fs.String("name", env("NAME", "Kith directory"), "name shown to players (env KITH_DIRECTORY_NAME)")
	pubURL := fs.String("url", env("URL", ""), "public base URL to print, e.g. https://dir.example:8443 (env KITH_DIRECTORY_URL; default from --addr)")
	webhook := fs.String("webhook", env("WEBHOOK", ""), "billing webhook URL (env KITH_DIRECTORY_WEBHOOK; empty: keep events for export)")
	secretArg := fs.String("webhook-secret", "", "refused: a secret in argv is visible to every local user; use --webhook-secret-file or KITH_DIRECTORY_WEBHOOK_SECRET")
	secretFile := fs.String("webhook-secret-file", env("WEBHOOK_SECRET_FILE", ""), "file holding the HMAC-SHA256 key for the webhook signature (env KITH_DIRECTORY_WEBHOOK_SECRET_FILE; or the key itself in KITH_DIRECTORY_WEBHOOK_SECRET)")
	metricsAddr := fs.String("metrics-addr", env("METRICS_ADDR", ""), "serve /metrics in plain HTTP on this admin address, e.g. 127.0.0.1:9464 (env KITH_DIRECTORY_METRICS_ADDR); the API listener has no public /metrics")
	metricsTokenFile := fs.String("metrics-token-file", env("METRICS_TOKEN_FILE", ""), "file holding a bearer token that opens /metrics on the API listener (env KITH_DIRECTORY_METRICS_TOKEN_FILE; or the token itself in KITH_DIRECTORY_METRICS_TOKEN)")
	maxDevices := fs.Int("max-devices", int(envInt("MAX_DEVICES", directory.DefaultMaxDevices)), "devices one account may have enrolled at once (revoked ones do not count); one more is refused \"this account already has N devices; remove one in Settings\"; <0 unlimited (env KITH_DIRECTORY_MAX_DEVICES)")
	maxHoldings := fs.Int("max-holdings", int(envInt("MAX_HOLDINGS", directory.DefaultMaxHoldingsTotal)), "holdings of all online devices together (env KITH_DIRECTORY_MAX_HOLDINGS)")
	rateAllGuesses := fs.Float64("rate-guesses", floatEnv("RATE_GUESSES", directory.DefaultRateGuesses), "wrong passwords/s over all accounts, bursts 2x; <0 unlimited (env KITH_DIRECTORY_RATE_GUESSES)")
	maxConns := fs.Int("max-conns", int(envInt("MAX_CONNS", directory.DefaultMaxConns)), "connections open at once; more are closed on accept (env KITH_DIRECTORY_MAX_CONNS)")
	maxChecks := fs.Int("max-password-checks", int(envInt("MAX_PASSWORD_CHECKS", directory.DefaultMaxPasswordChecks)), "argon2id password checks at once, 19 MiB each (env KITH_DIRECTORY_MAX_PASSWORD_CHECKS)")
	maxBodies := fs.Int64("max-body-in-flight", envInt("MAX_BODY_IN_FLIGHT", directory.DefaultMaxBodyInFlight), "request body bytes held in memory at once, all clients (env KITH_DIRECTORY_MAX_BODY_IN_FLIGHT)")
	maxClientBodies := fs.Int64("max-body-per-client", envInt("MAX_BODY_PER_CLIENT", directory.DefaultMaxBodyPerClient), "request body bytes held at once per client, an IPv4 address or IPv6 /64 (env KITH_DIRECTORY_MAX_BODY_PER_CLIENT)")
	rateGuesses := fs.Float64("rate-account-guesses", floatEnv("RATE_ACCOUNT_GUESSES", directory.DefaultRateAccountGuesses), "wrong passwords/s per account, bursts of 10, from any address; <0 unlimited (env KITH_DIRECTORY_RATE_ACCOUNT_GUESSES)")
	rateIP := fs.Float64("rate-ip", floatEnv("RATE_IP", directory.DefaultRateIP), "requests/s per client IP, bursts 2x; <0 unlimited (env KITH_DIRECTORY_RATE_IP)")
	rateDev := fs.Float64("rate-device", floatEnv("RATE_DEVICE", directory.DefaultRateDevice), "requests/s per device, bursts 2x; <0 unlimited (env KITH_DIRECTORY_RATE_DEVICE)")
	rateAuth := fs.Float64("rate-auth", floatEnv("RATE_AUTH", directory.DefaultRateAuth), "password attempts/s per client IP (account creation, enrollment); <0 unlimited (env KITH_DIRECTORY_RATE_AUTH)")
	ttl := fs.Duration("announce-ttl", directory.DefaultAnnounceTTL, "how long a supplier stays listed after its last heartbeat")
	outboxLease := fs.Duration("outbox-lease", 0, "how long billing events this instance claimed stay its own before another instance sharing the --store may post them (0 = 190 s: 16 events of 10 s each and a margin)")
	devPublish := fs.String("device-publish", env("DEVICE_PUBLISH", "off"), "who may publish titles from their own devices: off, owner (--owner's account) or accounts (every account) (env KITH_DIRECTORY_DEVICE_PUBLISH)")
	owner := fs.String("owner", env("OWNER", ""), "the owner's account for --device-publish owner (env KITH_DIRECTORY_OWNER)")
	level := fs.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env KITH_DIRECTORY_LOG_LEVEL)")
	relayAddr := fs.String("relay", env("RELAY", ""), "run a relay for suppliers behind NAT on this address too, e.g. :7400, with the directory's key (env KITH_DIRECTORY_RELAY; small deployments)")
	relayPublic := fs.String("relay-public", env("RELAY_PUBLIC", ""), "host:port devices reach --relay at (env KITH_DIRECTORY_RELAY_PUBLIC; default from --relay)")
	relayAt := fs.String("relay-at", env("RELAY_AT", ""), "a separate kith-relay to offer, as it prints it: RELAY-ID@host:port (env KITH_DIRECTORY_RELAY_AT)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef(fs, "serve takes no arguments (got %q): every setting is a flag", rest)
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	if *secretArg != "" {
		return errSecretInArgv("webhook-secret", "KITH_DIRECTORY_WEBHOOK_SECRET")
	}
	secret, err := secretFrom(log, "webhook-secret-file", *secretFile, "KITH_DIRECTORY_WEBHOOK_SECRET")
	if err != nil {
		return err
	}
	if *webhook != "" && secret == "" {
		return fmt.Errorf("--webhook needs its secret (the receiver verifies the HMAC): --webhook-secret-file FILE or KITH_DIRECTORY_WEBHOOK_SECRET")
	}
	metricsToken, err := secretFrom(log, "metrics-token-file", *metricsTokenFile, "KITH_DIRECTORY_METRICS_TOKEN")
	if err != nil {
		return err
	}
	if metricsToken != "" && len(metricsToken) < 16 {
		return fmt.Errorf("the metrics token is %d characters: use at least 16 (e.g. openssl rand -hex 16)", len(metricsToken))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("KITH_DIRECTORY_CPUPROFILE"); path != "" { // for performance work
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if path := os.Getenv("KITH_DIRECTORY_MEMPROFILE"); path != "" { // allocations, written at the end
		defer func() {
			if f, err := os.Create(path); err == nil {
				runtime.GC() // the profile is as of the last cycle: one now takes in the run's end
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	unlock, err := lockData(*data, *store)
	if err != nil {
		return err
	}
	defer unlock() // after the store is closed
	id, st, origin, created, err := openData(ctx, *data, *store, stderr)
	if err != nil {
		return err
	}
	if created {
		log.Info("created directory identity", "id", id.ID(), "data", *data)
	}
	relayInfo, rsrv, rln, err := relayFlags(*relayAddr, *relayPublic, *relayAt, id, log)
	if err != nil {
		st.Close()
		return err
	}
	srv, err := directory.NewServer(directory.Options{Relay: relayInfo,
		Identity: id, Store: st, OriginDir: origin, Name: *name, Logger: log,
		Webhook: *webhook, WebhookSecret: []byte(secret), MetricsToken: metricsToken, OutboxLease: *outboxLease,
		RateIP: *rateIP, RateDevice: *rateDev, RateAuth: *rateAuth, AnnounceTTL: *ttl,
		Publish:            directory.PublishPolicy{Mode: *devPublish, Owner: *owner},
		JoinCodeFile:       joinCodePath(*data),
		RateAccountGuesses: *rateGuesses, RateGuesses: *rateAllGuesses, MaxPasswordChecks: *maxChecks,
		MaxConns: *maxConns, MaxBodyInFlight: *maxBodies, MaxBodyPerClient: *maxClientBodies, MaxHoldingsTotal: *maxHoldings, MaxDevices: *maxDevices,
	})
	if err != nil {
		st.Close()
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		st.Close()
		return settings.ListenError("addr", err)
	}
	base := *pubURL
	if base == "" {
		base = "https://" + advertised(ln.Addr().(*net.TCPAddr))
	}
	fmt.Fprintln(stdout, directory.FormatURL(base, id.ID()))
	log.Info("serving", "url", directory.FormatURL(base, id.ID()), "addr", ln.Addr().String(), "data", *data,
		"webhook", *webhook != "")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	if rsrv != nil {
		log.Info("relaying", "addr", rln.Addr().String(), "public", relayInfo.Addr)
		g.Go(func() error { return rsrv.Serve(gctx, rln) })
	}
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			st.Close()
			return settings.ListenError("metrics-addr", err)
		}
		if ip := mln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn("metrics are served in plain HTTP on a non-loopback address: keep it private", "addr", mln.Addr().String())
		}
		log.Info("serving metrics", "addr", mln.Addr().String())
		g.Go(func() error { return serveMetrics(gctx, mln, srv, rsrv) })
	}
	err = g.Wait()
	start := time.Now()
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	log.Info("stopped", "err", err, "close", time.Since(start))
	return err
}

// serveMetrics serves srv's metrics in plain HTTP on ln until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, srv *directory.Server, rsrv *relay.Server) error {
	var h http.Handler = srv.MetricsHandler()
	if rsrv != nil { // the relay's own counters beside the directory's
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.Handle("/relay/", http.StripPrefix("/relay", rsrv.Handler()))
		h = mux
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}

func envInt(key string, def int64) int64 {
	if v, err := strconv.ParseInt(env(key, ""), 10, 64); err == nil {
		return v
	}
	return def
}

// advertised turns a listen address into host:port to print: an
// unspecified host becomes the machine's host name.
func advertised(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP == nil || a.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// relayFlags turns --relay, --relay-public and --relay-at into the relay
// the directory offers, and for --relay the embedded relay server (with
// the directory's key) and its listener.
func relayFlags(addr, public, at string, id *identity.Identity, log *slog.Logger) (*directory.RelayInfo, *relay.Server, net.Listener, error) {
	switch {
	case addr != "" && at != "":
		return nil, nil, nil, errors.New("--relay and --relay-at exclude each other")
	case at != "":
		rid, hostport, ok := strings.Cut(at, "@")
		parsed, err := identity.ParseID(rid)
		if !ok || err != nil || directory.ValidateAddr(hostport) != nil {
			return nil, nil, nil, fmt.Errorf("--relay-at %q: want RELAY-ID@host:port as kith-relay prints it", at)
		}
		return &directory.RelayInfo{Addr: hostport, ID: parsed}, nil, nil, nil
	case addr == "":
		return nil, nil, nil, nil
	}
	rsrv, err := relay.NewServer(relay.Options{Identity: id, Directory: id.ID(), Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	rln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, settings.ListenError("relay", err)
	}
	if public == "" {
		public = advertised(rln.Addr().(*net.TCPAddr))
	}
	if err := directory.ValidateAddr(public); err != nil {
		rln.Close()
		return nil, nil, nil, fmt.Errorf("--relay-public: %w", err)
	}
	return &directory.RelayInfo{Addr: public, ID: id.ID()}, rsrv, rln, nil
}
