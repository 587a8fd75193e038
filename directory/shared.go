package directory

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Several instances on one database (a SharedStore): each keeps its own
// in-memory online index current with what the others change, through the
// store's change feed, and refuses a signed request that changes something
// when any instance has seen it (the replay rows are written before the
// request is handled).

// feedPoll is how often an instance reads the change feed: an announce
// on one instance is listed by the others within about this much.
const feedPoll = 500 * time.Millisecond

// runFeed follows the store's change feed until ctx ends (only for a
// SharedStore). The feed's cursor is taken before the index is loaded, so
// what changes during the load is applied after it.
func (s *Server) runFeed(ctx context.Context, feed SharedStore, started chan<- struct{}) error {
	var cursor int64
	for {
		_, next, err := feed.DeviceChanges(ctx, 0, s.now())
		if err == nil {
			cursor = next
			break
		}
		s.log.Error("starting the change feed", "err", err)
		select {
		case <-ctx.Done():
			close(started)
			return nil
		case <-time.After(time.Second):
		}
	}
	close(started)
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	prune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		changes, next, err := feed.DeviceChanges(ctx, cursor, s.now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the change feed", "err", err)
			}
			continue
		}
		cursor = next
		for i := range changes {
			s.applyChange(&changes[i])
		}
		if time.Since(prune) > time.Minute {
			prune = time.Now()
			if err := feed.PruneShared(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.log.Warn("pruning the change feed", "err", err)
			}
		}
	}
}

// applyChange puts one device's state read back from the store into the
// online index, checked like a row loaded at start (never trusted blindly).
func (s *Server) applyChange(c *DeviceChange) {
	s.changedElsewhere(c) // before the index: c.Online's holdings are filtered below
	a := c.Online
	if a == nil {
		s.idx.remove(c.Device)
		s.o.Origin.Announced(c.Device, nil, s.now())
		return
	}
	cand := &Candidate{Device: a.Device, Account: c.Account, Addrs: a.Addrs, PrivateAddrs: a.PrivateAddrs, PublicIP: a.PublicIP,
		Load: a.Load, Expires: a.Expires}
	if err := validateCandidateDevice(cand); err != nil {
		s.log.Warn("changed device skipped: bad row in the store", "device", fmt.Sprintf("%.80q", c.Device), "err", err)
		s.idx.remove(c.Device)
		return
	}
	kept := a.Holdings[:0]
	for _, h := range a.Holdings {
		if h.Policy.Validate() == nil {
			kept = append(kept, h)
		}
	}
	a.Holdings = kept
	s.idx.announce(a, c.Account)
	s.o.Origin.Announced(a.Device, a.Holdings, s.now())
}

// seenShared refuses a signed request that changes something when another
// instance (or this one) recorded it already; lookups (GET) are left to
// the in-memory cache: replaying one to another instance only reads.
func (s *Server) seenShared(r *http.Request, sig []byte, expires time.Time) error {
	feed, ok := s.st.(SharedStore)
	if !ok || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	fresh, err := feed.SeenRequest(r.Context(), sig, expires)
	if err != nil {
		return fmt.Errorf("recording the request against replays: %w", err)
	}
	if !fresh {
		s.metrics.replays.add("", 1)
		return newError(http.StatusUnauthorized, CodeReplay, "request replayed: this exact signed request was already received")
	}
	return nil
}
