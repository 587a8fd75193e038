package directory

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientGoneIsNotAnError: a handler failing because its client went
// away (context canceled) answers nothing, logs no ERROR and is counted
// as 499; a busy origin (503 origin_busy) is no ERROR either; a real
// failure still is.
func TestClientGoneIsNotAnError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cancel   bool
		err      error
		status   string // in the metrics
		errorLog bool
	}{
		{"client went away", true, fmt.Errorf("reading device: %w", context.Canceled), "499", false},
		{"origin busy", false, newError(http.StatusServiceUnavailable, CodeOriginBusy, "ask your peers"), "503", false},
		{"store failure", false, fmt.Errorf("reading device: disk on fire"), "500", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil)), metrics: newMetrics()}
			h := s.wrap("healthz", false, func(w http.ResponseWriter, r *http.Request, rq *request) error { return tc.err })
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil).WithContext(ctx))
			if got := strings.Contains(logs.String(), "level=ERROR"); got != tc.errorLog {
				t.Errorf("ERROR logged = %v, want %v: %s", got, tc.errorLog, logs.String())
			}
			var m bytes.Buffer
			s.metrics.write(&m)
			if want := `status="` + tc.status + `"`; !strings.Contains(m.String(), want) {
				t.Errorf("metrics lack %s:\n%s", want, m.String())
			}
			if tc.cancel && rec.Body.Len() != 0 {
				t.Errorf("answered a gone client: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
