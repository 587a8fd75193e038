package directory

import (
	"crypto/subtle"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are hand-written in the Prometheus text exposition format (0.0.4):
// a dozen counters and one histogram do not justify client_golang's
// dependency tree in a binary that must stay small, and the format is a few
// lines of text.
type metrics struct {
	requests    *counterVec // by route and status
	rateLimited *counterVec // by route
	replays     *counterVec
	authn       *counterVec // device-authenticated requests by method: connection, signature
	purchases   *counterVec // by outcome: paid, declined, owned, free
	charges     *counterVec
	licenses    *counterVec
	originBytes *counterVec // by content
	originBusy  *counterVec // by content
	outbox      *counterVec // by result: delivered, failed
	duration    *histogram
	// passwordChecks counts argon2id computations (checks and hashes).
	passwordChecks *counterVec
	busy           *counterVec // requests answered 503 busy, by route
}

func newMetrics() *metrics {
	return &metrics{
		requests:       newCounterVec("kith_directory_requests_total", "HTTP requests by route and status.", "route", "status"),
		rateLimited:    newCounterVec("kith_directory_rate_limited_total", "Requests answered 429, by route.", "route"),
		replays:        newCounterVec("kith_directory_replays_total", "Signed requests refused as exact replays."),
		authn:          newCounterVec("kith_directory_device_requests_total", "Requests authenticated as a device, by method (connection: the device's client certificate; signature).", "method"),
		purchases:      newCounterVec("kith_directory_registrations_total", "Registrations by outcome (paid, free, owned, declined).", "outcome"),
		charges:        newCounterVec("kith_directory_charges_total", "Charges made through the payment processor, each counted once, when the purchase it pays for is recorded paid."),
		licenses:       newCounterVec("kith_directory_licenses_total", "Licenses issued."),
		originBytes:    newCounterVec("kith_directory_origin_bytes_total", "Ciphertext bytes uploaded from the origin store, by content.", "content"),
		originBusy:     newCounterVec("kith_directory_origin_busy_total", "Origin reads answered origin_busy (ask your peers), by content.", "content"),
		outbox:         newCounterVec("kith_directory_outbox_deliveries_total", "Billing webhook delivery attempts by result.", "result"),
		passwordChecks: newCounterVec("kith_directory_password_checks_total", "argon2id password checks and hashes computed (19 MiB each)."),
		busy:           newCounterVec("kith_directory_busy_total", "Requests refused 503 by a global cap (in flight, body bytes, password slots), by route.", "route"),
		duration:       newHistogram("kith_directory_request_duration_seconds", "Request handling time.", []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
	}
}

// requestsKey is the requests counter's key for route and status.
func requestsKey(route string, status int) string {
	return route + "\x00" + strconv.Itoa(status)
}

// observe counts a request under key (requestsKey) and its duration.
func (m *metrics) observe(key string, d time.Duration) {
	m.requests.add(key, 1)
	m.duration.observe(d.Seconds())
}

func (m *metrics) write(w io.Writer) {
	for _, c := range []*counterVec{m.requests, m.rateLimited, m.replays, m.authn, m.purchases, m.charges, m.licenses, m.originBytes, m.originBusy, m.outbox, m.passwordChecks, m.busy} {
		c.write(w)
	}
	m.duration.write(w)
}

// handleMetrics serves /metrics on the API listener, only to requests
// bearing Options.MetricsToken.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *request) error {
	if s.o.MetricsToken == "" {
		return newError(http.StatusNotFound, CodeNotFound, "metrics are not served here: the operator serves them on an admin listener or behind a token")
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.MetricsToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kith-directory metrics"`)
		return newError(http.StatusUnauthorized, CodeUnauthorized, "metrics need Authorization: Bearer <token>")
	}
	s.writeMetrics(w)
	return nil
}

func (s *Server) writeMetrics(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w)
	if ws, ok := s.st.(writeStatser); ok {
		commits, writes := ws.WriteStats()
		fmt.Fprintf(w, "# HELP kith_directory_store_commits_total Commits made by the store's writer (group commit).\n"+
			"# TYPE kith_directory_store_commits_total counter\nkith_directory_store_commits_total %d\n", commits)
		fmt.Fprintf(w, "# HELP kith_directory_store_writes_total Write transactions the store's writer committed (writes/commits is the mean batch).\n"+
			"# TYPE kith_directory_store_writes_total counter\nkith_directory_store_writes_total %d\n", writes)
	}
}

// writeStatser is a store with a group-commit writer (sqlitestore).
type writeStatser interface {
	WriteStats() (commits, writes int64)
}

// MetricsHandler serves the Prometheus metrics at /metrics with no
// authentication, for an admin listener the operator keeps private (e.g.
// kith-directory serve --metrics-addr 127.0.0.1:9464).
func (s *Server) MetricsHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { s.writeMetrics(w) })
	return m
}

// counterVec is a counter family; label values are joined by NUL into the key.
type counterVec struct {
	name, help string
	labels     []string
	m          sync.Map // string → *atomic.Int64
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{name: name, help: help, labels: labels}
}

func (c *counterVec) add(key string, n int64) {
	v, ok := c.m.Load(key)
	if !ok {
		v, _ = c.m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(n)
}

func (c *counterVec) get(key string) int64 {
	if v, ok := c.m.Load(key); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func (c *counterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	var keys []string
	c.m.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	sort.Strings(keys)
	if len(c.labels) == 0 {
		fmt.Fprintf(w, "%s %d\n", c.name, c.get(""))
		return
	}
	for _, k := range keys {
		vals := splitNUL(k, len(c.labels))
		fmt.Fprintf(w, "%s{", c.name)
		for i, l := range c.labels {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, "%s=%s", l, strconv.Quote(vals[i]))
		}
		fmt.Fprintf(w, "} %d\n", c.get(k))
	}
}

func splitNUL(s string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n-1; i++ {
		j := 0
		for j < len(s) && s[j] != 0 {
			j++
		}
		out = append(out, s[:j])
		if j < len(s) {
			s = s[j+1:]
		} else {
			s = ""
		}
	}
	return append(out, s)
}

// histogram is a cumulative-bucket histogram.
type histogram struct {
	name, help string
	bounds     []float64
	counts     []atomic.Int64 // per bucket (non-cumulative), last = +Inf
	sumBits    atomic.Uint64
	count      atomic.Int64
}

func newHistogram(name, help string, bounds []float64) *histogram {
	return &histogram{name: name, help: help, bounds: bounds, counts: make([]atomic.Int64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i].Add(1)
	h.count.Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (h *histogram) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	var cum int64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", h.name, b, cum)
	}
	cum += h.counts[len(h.bounds)].Load()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", h.name, cum, h.name,
		math.Float64frombits(h.sumBits.Load()), h.name, h.count.Load())
}
