package supervise

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A service that fails twice, panics once, then runs: each failure is
// reported with a growing wait, the panic does not escape, and Run returns
// nil when its context ends with the service up.
func TestRunRetriesUntilUp(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var got []Status
	running := make(chan struct{})
	calls := 0
	serve := func(ctx context.Context) error {
		calls++
		switch calls {
		case 1, 2:
			return errors.New("no multicast interface")
		case 3:
			panic("broken")
		}
		close(running)
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Name: "lan", Min: time.Millisecond, Max: 50 * time.Millisecond, Logger: quiet,
			OnStatus: func(s Status) { mu.Lock(); got = append(got, s); mu.Unlock() }}, serve)
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("Run returned %v before the service came up", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// started, failed, started, failed, started, panicked, started
	if len(got) != 7 {
		t.Fatalf("got %d status reports, want 7: %+v", len(got), got)
	}
	for i, s := range got {
		if s.Name != "lan" {
			t.Errorf("report %d names %q", i, s.Name)
		}
		if up := i%2 == 0; s.Up() != up {
			t.Errorf("report %d: up %v, want %v (%v)", i, s.Up(), up, s.Err)
		}
	}
	if got[1].Failures != 1 || got[3].Failures != 2 || got[5].Failures != 3 {
		t.Errorf("failures in a row: got %d %d %d, want 1 2 3", got[1].Failures, got[3].Failures, got[5].Failures)
	}
	if !strings.Contains(got[5].Err.Error(), "panic: broken") {
		t.Errorf("panic reported as %v", got[5].Err)
	}
	if got[6].Retry != (time.Time{}) || got[6].Err != nil {
		t.Errorf("running again, got %+v", got[6])
	}
}

// The wait doubles from Min and stops at Max.
func TestRunBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var waits []time.Duration
	err := Run(ctx, Options{Name: "x", Min: time.Millisecond, Max: 4 * time.Millisecond, Logger: quiet,
		OnStatus: func(s Status) {
			if s.Err != nil {
				waits = append(waits, time.Until(s.Retry).Round(time.Millisecond))
				if len(waits) == 5 {
					cancel()
				}
			}
		}}, func(context.Context) error { return errors.New("down") })
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{1, 2, 4, 4, 4}
	for i := range want {
		want[i] *= time.Millisecond
	}
	for i := range want {
		if waits[i] > want[i] || waits[i] < want[i]-time.Millisecond {
			t.Fatalf("waits: got %v, want %v", waits, want)
		}
	}
}

// A service that returns nil before the context ends has stopped by
// itself: that is a failure too, and it is retried.
func TestRunNilIsFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errs []error
	Run(ctx, Options{Name: "page", Min: time.Millisecond, Logger: quiet, OnStatus: func(s Status) {
		if s.Err != nil {
			errs = append(errs, s.Err)
			cancel()
		}
	}}, func(context.Context) error { return nil })
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "page stopped by itself") {
		t.Fatalf("got %v", errs)
	}
}
