// Package supervise runs a service that may fail on its own (mDNS, the
// desktop media bus, the install page): a failure is logged, reported and
// retried with exponential backoff, and never ends the caller. The waits
// are timed on Options.Clock (internal/clock), so a test checks them on a
// clock.Fake at their exact length.
package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/kith-media/kith/internal/clock"
)

// Defaults for Options.
const (
	DefaultMin = time.Second     // first retry
	DefaultMax = 5 * time.Minute // longest wait between attempts
)

// Status is where a supervised service stands.
type Status struct {
	Name string
	// Err is why the service is down; nil while it runs (or before it
	// first fails).
	Err error
	// Failures counts failures in a row (0 while it runs well).
	Failures int
	// Retry is when the next attempt starts (zero while it runs).
	Retry time.Time
}

// Up reports whether the service is running (not known to have failed).
func (s Status) Up() bool { return s.Err == nil }

// Options configure Run.
type Options struct {
	Name string // names the service in logs and Status
	// Min and Max bound the wait before a retry; it doubles from Min after
	// each failure in a row. Defaults DefaultMin, DefaultMax.
	Min, Max time.Duration
	// OnStatus is told each change (started, failed with the retry time);
	// it is called on Run's goroutine and must not block.
	OnStatus func(Status)
	Logger   *slog.Logger // nil: slog.Default()
	// Clock times the waits and a run's length (nil: the wall clock).
	Clock clock.Clock
}

// Run calls serve until ctx is done. When serve returns (an error, nil, or
// a panic, recovered and reported as an error) before ctx is done, Run
// reports the failure, waits (Min, doubling up to Max; a run that lasted
// longer than Max starts again from Min) and calls it again. Run returns
// nil once ctx is done.
func Run(ctx context.Context, o Options, serve func(ctx context.Context) error) error {
	if o.Min <= 0 {
		o.Min = DefaultMin
	}
	if o.Max < o.Min {
		o.Max = max(DefaultMax, o.Min)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", o.Name)
	report := func(s Status) {
		if o.OnStatus != nil {
			o.OnStatus(s)
		}
	}
	clk := clock.Or(o.Clock)
	wait, failures, lastMsg := o.Min, 0, ""
	for ctx.Err() == nil {
		report(Status{Name: o.Name, Failures: failures})
		started := clk.Now()
		err := call(ctx, serve)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%s stopped by itself", o.Name)
		}
		if clock.Since(clk, started) > o.Max {
			wait, failures = o.Min, 0
		}
		failures++
		// The first failure, and each new kind of failure, at Warn; the
		// same one again (no multicast interface, no bus) at Debug.
		level := slog.LevelWarn
		if msg := err.Error(); msg == lastMsg {
			level = slog.LevelDebug
		} else {
			lastMsg = msg
		}
		log.Log(ctx, level, "service failed; retrying", "err", err, "failures", failures, "retry_in", wait)
		report(Status{Name: o.Name, Err: err, Failures: failures, Retry: clk.Now().Add(wait)})
		t := clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
		wait = min(2*wait, o.Max)
	}
	return nil
}

// call runs serve, turning a panic into an error so one broken service
// cannot take the process down with it.
func call(ctx context.Context, serve func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return serve(ctx)
}
