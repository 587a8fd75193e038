package sched

import "time"

// Result applies how attempt a ended. done reports that a's chunk became
// held (the driver announces it); cancel lists the other attempts for the
// same chunk, which the win made useless (call their Cancel); fault is set
// when the source was banned or dropped.
func (k *Core) Result(a *Attempt, out Outcome, now time.Time) (done bool, cancel []*Attempt, fault *Fault) {
	s := a.Src
	s.inflight--
	as := k.attempts[a.Chunk]
	for j, x := range as {
		if x == a {
			as = append(as[:j], as[j+1:]...)
			break
		}
	}
	if len(as) == 0 {
		delete(k.attempts, a.Chunk)
		k.busy.Clear(a.Chunk)
	} else {
		k.attempts[a.Chunk] = as
	}
	if out.Kind == OK {
		size := k.c.ChunkSize(a.Chunk)
		d := now.Sub(a.Start)
		if d <= 0 {
			d = time.Microsecond
		}
		inst := float64(size) / d.Seconds()
		if s.rate == 0 {
			s.rate = inst
		} else {
			s.rate = 0.7*s.rate + 0.3*inst
		}
		s.fails = 0
		if !s.origin {
			k.lastPeerChunk = now
		}
		s.bytes += size
		k.bytes += size
		k.rate = 0.9*k.rate + 0.1*inst*float64(max(1, len(k.srcs)))
		if k.need.Has(a.Chunk) {
			k.need.Clear(a.Chunk)
			k.missing--
			done = true
		}
		return done, append([]*Attempt(nil), as...), nil
	}
	if k.need.Has(a.Chunk) {
		if len(as) == 0 {
			k.since[a.Chunk] = now
		}
		fault = k.fail(s, a.Chunk, out, now)
	}
	return false, nil, fault
}

// fail applies an error from source s (about chunk i, or -1) and returns a
// fault if the source was banned or dropped.
func (k *Core) fail(s *Source, i int, out Outcome, now time.Time) *Fault {
	switch {
	case s.banned || s.dropped:
		return nil
	case out.Kind == Canceled:
		return nil // we cancelled it (won elsewhere, or shutting down)
	case out.Kind == Bad:
		s.banned = true
		k.mine = nil // the crowd changed
		fl := Fault{Source: s.id, Chunk: i, Banned: true, Err: out.Err}
		k.faults = append(k.faults, fl)
		k.log.Warn("fetcher: source banned", "source", s.id, "chunk", i, "err", out.Err)
		return &fl
	case out.Kind == Declined && i >= 0:
		// The crowd has chunk i: not from the origin before the time it
		// named, and no other chunk we do not own before we starve again
		// (two more Have rounds with nothing from our peers). Our own
		// chunks stay open: the origin is not backed off.
		k.declined[i] = now.Add(max(out.RetryAfter, 50*time.Millisecond))
		if !k.starvedSince.IsZero() {
			k.starvedSince = now
		}
		return nil
	case out.Kind == Busy:
		s.until = now.Add(max(out.RetryAfter, 50*time.Millisecond))
		if out.Slots && !s.origin {
			k.slotsBusy++
		}
		return nil
	case out.Kind == NotHeld && s.have != nil && i >= 0:
		s.have.Clear(i) // our view of its bitmap was stale
		return nil
	case out.Kind == Refused:
		s.dropped = true
	default:
		s.fails++
		// The last source standing gets more patience (a slow link is
		// better than none); it is dropped only after 4x the failures.
		// The origin, the supplier of last resort, is dropped only as the
		// last source standing: when a crowd overloads it, dropping it
		// leaves the chunks nobody else has out of reach.
		others := k.othersAlive(s)
		if s.fails >= k.c.MaxFailures && ((others && !s.origin) || (s.fails >= 4*k.c.MaxFailures && (!others || !s.origin))) {
			s.dropped = true
		} else {
			s.until = now.Add(time.Duration(1<<min(s.fails, 6)) * 50 * time.Millisecond)
		}
	}
	if !s.dropped {
		return nil
	}
	k.mine = nil // the crowd changed
	s.droppedAt = now
	if s.faulted {
		return nil
	}
	s.faulted = true
	fl := Fault{Source: s.id, Chunk: i, Err: out.Err}
	k.faults = append(k.faults, fl)
	k.log.Warn("fetcher: source dropped", "source", s.id, "err", out.Err)
	return &fl
}

// othersAlive reports whether a source other than s is neither banned nor dropped.
func (k *Core) othersAlive(s *Source) bool {
	for _, x := range k.srcs {
		if x != s && !x.banned && !x.dropped {
			return true
		}
	}
	return false
}
