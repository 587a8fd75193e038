package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a Clock that moves only when Advance is called. Timers and
// tickers fire, in time order, during Advance: a channel timer's send
// never blocks (its channel holds one value, and a ticker drops ticks its
// reader missed, as time's do); an AfterFunc's function runs in its own
// goroutine. The zero Fake is not usable: use NewFake.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    int64
	timers []*fakeTimer  // active, in no order
	added  chan struct{} // closed and replaced whenever a timer is set
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, added: make(chan struct{})}
}

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock d forward, firing every timer and tick that
// falls due on the way, each at its own time.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		t := f.nextLocked(end)
		if t == nil {
			break
		}
		f.now = t.when
		t.fireLocked(f)
	}
	f.now = end
	f.mu.Unlock()
}

// Timers is the number of timers and tickers set and not yet fired or
// stopped (a ticker counts until stopped).
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// TimerSet returns a channel closed the next time a timer or ticker is
// set (or reset), for a test waiting for the code under test to get to
// its next wait before advancing the clock.
func (f *Fake) TimerSet() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.added
}

// NewTimer implements Clock.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t, d)
	return t
}

// NewTicker implements Clock.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), period: d}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t, d)
	return fakeTicker{t}
}

// fakeTicker is a Fake's ticker (Stop reports nothing, as time.Ticker's).
type fakeTicker struct{ *fakeTimer }

func (t fakeTicker) Stop() { t.fakeTimer.Stop() }

// AfterFunc implements Clock.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{f: f, fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t, d)
	return t
}

func (f *Fake) setLocked(t *fakeTimer, d time.Duration) {
	f.seq++
	t.when, t.seq = f.now.Add(d), f.seq
	if !t.active {
		t.active = true
		f.timers = append(f.timers, t)
	}
	close(f.added)
	f.added = make(chan struct{})
	if d <= 0 && t.period == 0 {
		t.fireLocked(f) // due now, as time's timers are
	}
}

func (f *Fake) removeLocked(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	t.active = false
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	return true
}

// nextLocked is the earliest timer due at or before end (the first set
// among equals), or nil.
func (f *Fake) nextLocked(end time.Time) *fakeTimer {
	due := make([]*fakeTimer, 0, len(f.timers))
	for _, t := range f.timers {
		if !t.when.After(end) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return nil
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].when.Equal(due[j].when) {
			return due[i].when.Before(due[j].when)
		}
		return due[i].seq < due[j].seq
	})
	return due[0]
}

// fakeTimer is a Fake's timer, ticker or AfterFunc.
type fakeTimer struct {
	f      *Fake
	c      chan time.Time // nil for AfterFunc
	fn     func()
	period time.Duration // tickers
	when   time.Time
	seq    int64
	active bool
}

func (t *fakeTimer) fireLocked(f *Fake) {
	if t.period > 0 {
		f.seq++
		t.when, t.seq = t.when.Add(t.period), f.seq
	} else {
		f.removeLocked(t)
	}
	if t.fn != nil {
		go t.fn()
		return
	}
	select {
	case t.c <- f.now:
	default: // the reader missed a tick
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.removeLocked(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	t.f.setLocked(t, d)
	return was
}
