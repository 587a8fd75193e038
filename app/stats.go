package app

import (
	"sync"
	"time"
)

// Stats measures the work handed to the UI goroutine with fyne.Do: how long
// each callback waited before it ran and how long it ran (the time it kept
// a frame from being drawn).
type Stats struct {
	mu   sync.Mutex
	snap StatsSnapshot
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Calls   int
	MaxWait time.Duration // longest wait from fyne.Do to the callback starting
	MaxRun  time.Duration // longest callback
	SumRun  time.Duration
}

func (s *Stats) add(wait, run time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap.Calls++
	s.snap.MaxWait = max(s.snap.MaxWait, wait)
	s.snap.MaxRun = max(s.snap.MaxRun, run)
	s.snap.SumRun += run
}

// Snapshot copies the figures.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// Reset forgets the figures so far.
func (s *Stats) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = StatsSnapshot{}
}
