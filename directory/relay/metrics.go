package relay

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
)

// metrics are the relay's counters, served as Prometheus text.
type metrics struct {
	suppliers     atomic.Int64 // control connections now
	sessions      atomic.Int64 // spliced sessions now
	sessionsTotal atomic.Int64
	bytes         atomic.Int64 // bytes spliced, both ways
	punches       atomic.Int64 // hole punches coordinated

	mu      sync.Mutex
	refusal map[string]int64
}

func (m *metrics) refused(reason string) {
	m.mu.Lock()
	if m.refusal == nil {
		m.refusal = map[string]int64{}
	}
	m.refusal[reason]++
	m.mu.Unlock()
}

func (c Code) metric() string {
	switch c {
	case CodeBadTicket:
		return "bad_ticket"
	case CodeExpired:
		return "expired"
	case CodeNoSupplier:
		return "no_supplier"
	case CodeBusy:
		return "busy"
	case CodeTimeout:
		return "timeout"
	case CodeUnknownJoin:
		return "unknown_join"
	}
	return "bad_request"
}

// Stats is a snapshot of the relay's counters.
type Stats struct {
	Suppliers     int64            // control connections now
	Sessions      int64            // spliced sessions now
	SessionsTotal int64            // sessions spliced since start
	Bytes         int64            // bytes spliced since start, both directions
	Punches       int64            // hole punches coordinated since start
	Refused       map[string]int64 // refusals by reason
}

// Stats returns the relay's counters.
func (s *Server) Stats() Stats {
	st := Stats{Suppliers: s.m.suppliers.Load(), Sessions: s.m.sessions.Load(), SessionsTotal: s.m.sessionsTotal.Load(),
		Bytes: s.m.bytes.Load(), Punches: s.m.punches.Load(), Refused: map[string]int64{}}
	s.m.mu.Lock()
	for k, v := range s.m.refusal {
		st.Refused[k] = v
	}
	s.m.mu.Unlock()
	return st
}

// Handler serves GET /healthz and GET /metrics (Prometheus text) for an
// admin listener; the relay port itself speaks only the relay protocol.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		st := s.Stats()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP kith_relay_suppliers Suppliers keeping a control connection.\n# TYPE kith_relay_suppliers gauge\nkith_relay_suppliers %d\n", st.Suppliers)
		fmt.Fprintf(w, "# HELP kith_relay_sessions Sessions being spliced.\n# TYPE kith_relay_sessions gauge\nkith_relay_sessions %d\n", st.Sessions)
		fmt.Fprintf(w, "# HELP kith_relay_sessions_total Sessions spliced.\n# TYPE kith_relay_sessions_total counter\nkith_relay_sessions_total %d\n", st.SessionsTotal)
		fmt.Fprintf(w, "# HELP kith_relay_bytes_total Bytes spliced, both directions.\n# TYPE kith_relay_bytes_total counter\nkith_relay_bytes_total %d\n", st.Bytes)
		fmt.Fprintf(w, "# HELP kith_relay_punches_total Hole punches coordinated.\n# TYPE kith_relay_punches_total counter\nkith_relay_punches_total %d\n", st.Punches)
		fmt.Fprintf(w, "# HELP kith_relay_refused_total Connections refused, by reason.\n# TYPE kith_relay_refused_total counter\n")
		keys := make([]string, 0, len(st.Refused))
		for k := range st.Refused {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "kith_relay_refused_total{reason=%q} %d\n", k, st.Refused[k])
		}
	})
	return mux
}
