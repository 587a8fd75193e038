package sched

import "time"

// HungryAfter is how long a download's peers may bring it nothing, while
// none of them has or is fetching a chunk it needs (Core.Unfed), before it
// has a resupply round at once and takes one more peer there (share.Node's
// hungry rule). It was two rounds: 10 s at the product's 5 s rounds,
// against a download of seconds, so the flash-crowd benchmark ran rounds
// of 500 ms, ten times the product's directory lookups; with the
// product's rounds and that rule, one 8 MiB N=200 run of three took 5.8 s
// against 3.7 s. A second is what two of the bench's rounds were. The
// bench now runs the product's rounds: 3 rounds alternated against its
// 500 ms, 8 MiB N=200 cpu_s 8.29/7.79/7.88 -> 7.49/7.35/7.77, N=500
// 35.2/30.3/30.6 -> 29.4/29.0/28.7, 64 MiB N=50 conns/dev 9.0 -> 7.3.
const HungryAfter = time.Second

// Rounds is when a download asks the directory for its suppliers again
// (share.Node's resupply rounds, and internal/swarmsim's): every Every by
// the clock, and at once for a hungry download (unfed for HungryAfter),
// but not within a wait after the last round that starts at HungryAfter
// and doubles with each hungry round since the download was last fed (1,
// 2, 4 s ... up to Every). A download nobody can feed (its only holders
// offline) asks the directory no more often than the clock's rounds once
// a few hungry rounds have not helped it; a thousand such downloads
// polled it five times as often at one a second each.
//
// The zero Rounds is not ready: use NewRounds.
type Rounds struct {
	every      time.Duration
	next, calm time.Time // the next round by the clock; no hungry round before calm
	streak     int       // hungry rounds since the download was last fed
}

// FirstRound is when a download's first resupply round comes: a crowd
// arriving together finds itself quickly.
const FirstRound = 100 * time.Millisecond

// SampledFirstRound is when the first resupply round of a download
// started from a sample of a bigger crowd comes (pairs.Sampled): that
// round fills the download's k from its answer, and the devices that
// picked us from their own samples, which would fill it without a
// handshake of ours (share.Node's adoptDialled), dial at the moment we
// do; over a WAN their TCP and TLS handshakes and first poll take a few
// round trips of up to 300 ms. At 100 ms, as a forming crowd's first
// round, most had not come and every device dialled its k (simulated
// 8 MiB N=1000 with 100 ms links: 3.92 connections a device, 2.92 so;
// N=200: 3.56, 3.03).
const SampledFirstRound = time.Second

// NewRounds returns the rounds of a download that started at now: the
// first after FirstRound (SampledFirstRound when its first answer was
// a sample of a bigger crowd), then every every; none later than every.
func NewRounds(now time.Time, sampled bool, every time.Duration) *Rounds {
	first := FirstRound
	if sampled {
		first = SampledFirstRound
	}
	next := now.Add(min(every, first))
	return &Rounds{every: every, next: next, calm: next}
}

// Due reports whether a round is due at now for a download unfed for
// unfed (Core.Unfed: 0 while it is fed): the clock's, or a hungry one. A
// due round starts: the next by the clock is Every from now, and the next
// hungry one waits as the type says. early: the round came before the
// clock's (a hungry one).
func (r *Rounds) Due(now time.Time, unfed time.Duration) (due, early bool) {
	if unfed == 0 {
		r.streak = 0
	}
	if now.Before(r.next) && (now.Before(r.calm) || unfed < HungryAfter) {
		return false, false
	}
	early = now.Before(r.next)
	if early {
		r.streak++
	}
	r.next, r.calm = now.Add(r.every), now.Add(r.hungryWait())
	return true, early
}

// Early starts a round at now for a reason of the caller's (share.Node's
// contended rule: a download its peers keep answering busy, their upload
// slots full), unless one came within the hungry wait (a second while
// the download is fed: hungryWait); false: not now. A round started so
// is early as a hungry one is, and counts as the last round.
func (r *Rounds) Early(now time.Time) bool {
	if now.Before(r.calm) {
		return false
	}
	r.next, r.calm = now.Add(r.every), now.Add(r.hungryWait())
	return true
}

// hungryWait is how long after a round the next hungry one may come:
// HungryAfter, doubling with each hungry round of the streak, up to Every.
func (r *Rounds) hungryWait() time.Duration {
	return min(r.every, HungryAfter<<min(r.streak, 16))
}

// Until puts every round off until at (a busy directory's wait).
func (r *Rounds) Until(at time.Time) { r.next, r.calm = at, at }

// Wait is how long the driver may sleep at now before it looks again:
// until the clock's round, and no longer than Every or HungryAfter/2
// (the look for a hungry download).
func (r *Rounds) Wait(now time.Time) time.Duration {
	return max(0, min(r.next.Sub(now), r.every, HungryAfter/2))
}

// Next is when the next round by the clock comes.
func (r *Rounds) Next() time.Time { return r.next }
