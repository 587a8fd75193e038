package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on C once d has passed.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that sends the time on C every d
	// (d > 0), dropping ticks a slow reader misses, like time.Ticker.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a time.Timer made by a Clock.
type Timer interface {
	// C delivers the time once the timer fires (nil for AfterFunc timers).
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
	// Reset makes the timer fire d from now; it reports whether it was active.
	Reset(d time.Duration) bool
}

// Ticker is a time.Ticker made by a Clock.
type Ticker interface {
	// C delivers the ticks.
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
}

// Or returns c, or Real() when c is nil (for Options structs).
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

// Since is c.Now().Sub(t).
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// After is NewTimer(d).C() for a select that does not need to stop it.
func After(c Clock, d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Real returns the wall clock (package time).
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// WithTimeout is context.WithTimeout on clock c: once d has passed on c
// the context ends, its Err is context.DeadlineExceeded and so is its
// Cause (which net/http reports). On the real clock it is
// context.WithTimeout itself. On any other clock Deadline does not report
// the fake deadline (see the package doc), and a context derived from this
// one ends with it but reports Canceled as its Err (its Cause is still
// DeadlineExceeded): callers that classify a timeout should ask this
// context, not the error a callee returned.
func WithTimeout(parent context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := c.(realClock); ok {
		return context.WithTimeout(parent, d)
	}
	ctx, cancel := context.WithCancelCause(parent)
	t := c.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return timeoutCtx{ctx}, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// timeoutCtx is WithTimeout's context on a clock other than the real one:
// a cancel-cause context whose Err says DeadlineExceeded when that is its
// cause, as a context.WithTimeout's does.
type timeoutCtx struct{ context.Context }

func (x timeoutCtx) Err() error {
	err := x.Context.Err()
	if err != nil && context.Cause(x.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}
