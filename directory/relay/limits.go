package relay

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket of bytes per second; rate <= 0 means unlimited.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate int64) *bucket {
	b := &bucket{rate: float64(rate), last: time.Now()}
	b.burst = max(b.rate/4, 256<<10) // a quarter second, and at least one chunk
	b.tokens = b.burst
	return b
}

// size is the most one take should ask for: the bucket's burst, or 1 GiB
// for no bucket.
func (b *bucket) size() int64 {
	if b == nil || b.rate <= 0 {
		return 1 << 30
	}
	return int64(b.burst)
}

// wait takes n bytes' worth of tokens, sleeping for any shortfall.
func (b *bucket) wait(ctx context.Context, n int) error {
	if b == nil || b.rate <= 0 {
		return nil
	}
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	var d time.Duration
	if b.tokens < 0 {
		d = time.Duration(-b.tokens / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usage is one device's share of the relay: its sessions, its bytes in
// the current window and its rate.
type usage struct {
	sessions int
	bytes    int64
	window   time.Time // start of the byte window
	rate     *bucket
}
