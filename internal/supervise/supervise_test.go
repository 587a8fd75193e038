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

	"github.com/kith-media/kith/internal/clock"
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

// The wait doubles from Min and stops at Max, on the clock: each retry
// starts exactly when its wait has passed (not a millisecond before), and
// a run that lasted longer than Max starts the waits again from Min.
func TestRunBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	const minWait, maxWait = time.Second, 4 * time.Second
	statuses := make(chan Status, 100)
	calls := make(chan time.Time, 100)
	release := make(chan struct{}) // ends the long run
	n := 0
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Name: "x", Min: minWait, Max: maxWait, Logger: quiet, Clock: clk,
			OnStatus: func(s Status) { statuses <- s }},
			func(context.Context) error {
				calls <- clk.Now()
				if n++; n == 6 {
					<-release // the sixth run lasts until the test ends it
				}
				return errors.New("down")
			})
	}()
	next := func() Status {
		t.Helper()
		for {
			select {
			case s := <-statuses:
				if s.Err != nil {
					return s
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no failure reported")
			}
		}
	}
	call := func(want time.Time) {
		t.Helper()
		select {
		case at := <-calls:
			if !at.Equal(want) {
				t.Fatalf("attempt at %v, want %v", at, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no attempt")
		}
	}
	call(clk.Now())
	for i, want := range []time.Duration{1, 2, 4, 4, 4} {
		want *= time.Second
		s := next()
		if got := s.Retry.Sub(clk.Now()); got != want || s.Failures != i+1 {
			t.Fatalf("failure %d: retry in %v (failures %d), want %v (%d)", i+1, got, s.Failures, want, i+1)
		}
		for clk.Timers() == 0 { // Run is about to wait
			time.Sleep(time.Millisecond)
		}
		clk.Advance(want - time.Millisecond)
		select {
		case at := <-calls:
			t.Fatalf("retried at %v, a millisecond before its wait", at)
		case <-time.After(20 * time.Millisecond):
		}
		clk.Advance(time.Millisecond)
		call(s.Retry)
	}
	// The sixth run lasts longer than Max: the next wait is Min again.
	clk.Advance(maxWait + time.Second)
	close(release)
	if s := next(); s.Retry.Sub(clk.Now()) != minWait || s.Failures != 1 {
		t.Fatalf("after a long run: retry in %v (failures %d), want %v (1)", s.Retry.Sub(clk.Now()), s.Failures, minWait)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
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
