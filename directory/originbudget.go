package directory

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// OriginBudget makes the origin store a supplier of last resort
// (super-seeding): while other devices hold or download a content, the
// origin hands each part of it out about once, to a device that shares it
// on, and answers every other read "busy, ask your peers" (CodeOriginBusy)
// unless a small repeat budget allows it. The repeat budget (RepeatShare of
// the content's size, refilled over RepeatPeriod) covers parts whose only
// holder left before passing them on, and devices that share nothing back.
// A device alone with a content (no other online holder it may copy from)
// is always served.
//
// It keeps no clock: the caller passes the time. Safe for concurrent use.
type OriginBudget struct {
	RepeatShare float64 // share of a content's size repeatable per period (default 0.1)
	// RepeatPeriod is the repeat budget's refill period (default 5 min).
	// At 1 min, a crowd slowed down (a loaded machine: 64 MiB to 200
	// devices took 5 minutes) drew a tenth of the size every minute it
	// lasted: origin ÷ size 1.45.
	RepeatPeriod time.Duration

	mu    sync.Mutex
	m     map[sealed.ContentID]*originTally
	pairs int       // (part, asker) pairs in every tally's askers (maxAskerPairs)
	swept time.Time // when tallies past their episode were last dropped for pairs
	// per device: its (part, asker) pairs in every tally (maxAskerPartsPerDevice)
	byAsker map[identity.ID]int
	// recent: per device, the parts it got as first copies into a crowd
	// of stuckCrowd or more in the last stuckAfter (originleft.go)
	recent  map[identity.ID][]recentGrant
	nRecent int
}

// stuckDeclines is how many refusals of one part, since it last went out,
// make it count as lacking again (its holder is not passing it on) once
// stuckAfter has passed: in a big crowd's first seconds every part is
// refused to many askers before its holder could pass it on, and counting
// those gave parts out again until the first-copy cap (origin ÷ size 2.09
// instead of 1.09 in the simulator at N = 1,000).
//
// stuckCrowd, stuckRatio: refusals measure demand, and demand grows with
// the crowd. A part that spreads normally is refused to about every
// device of the crowd that lacks it and finds no peer for it yet, once or
// more, before the crowd has it; so a fixed count (stuckDeclines) tells a
// stuck part from a spreading one only while the crowd is small against
// it. With stuckCrowd (8 × stuckDeclines) or more other devices holding
// or downloading the content online, 16 refusals are an eighth of the
// crowd asking once, and say nothing: there a part counts as stuck only
// if it is also refused to stuckRatio times as many sharers as the
// content's other parts handed out, on average (each sharer once per
// part: originaskers.go). A part whose holder cannot serve it
// stands out: the crowd gets the others and asks the origin for that
// one; while every part spreads, each is refused alike (hundreds of times
// in a crowd of thousands), and counting those gave parts out again at
// stuckAfter (simulator, N = 10,000, 10 % leaving, 30 % free riders, seed
// 3: origin 1.75 × the size, 1.12 with the ratio).
// A smaller crowd keeps the count alone: there one stalled holder (online,
// reachable, not serving: a loaded or sleeping machine) can have got a
// quarter or more of the first copies, and its parts, all refused alike,
// would not stand out against the mean (with a fraction f of the parts
// stuck and the rest unrefused the ratio needs f ≲ 1/stuckRatio); they
// are given again after stuckAfter, as before, not left to the repeat
// budget (3 parts per 5 minutes). In a crowd of stuckCrowd or more the
// first copies go to many first askers, a few each.
// The threshold, measured (internal/swarmsim, 10 % leaving, 30 % free
// riders, seeds 1-5, the count alone against the ratio alone): at N = 50,
// 64, 100, 128, 150, 200, 300 and 500 both give the same origin bytes and
// times, to the event, in every run; the count alone gives spreading
// parts out again only far above (N = 10,000, seed 3: origin 1.75 × the
// size against 1.12). In a crowd of 50-500 a spreading part is refused
// a few times (the mean is 1-2 at N = 100, about 20 at N = 1,000), so a
// stalled holder's parts stand out at once: with the first 4 devices
// stalled (swarmsim -stalled 4: about a quarter of the first copies), 33
// of 40 runs were the same either way, and in the 7 others the part
// given again went, by chance, to another stalled device under one rule
// and not the other (ratio sooner in 3: 65 → 30 s, 62 → 14 s, 16.7 →
// 14.7 s; later in 1: 17 → 72 s; within a second in 3). Any threshold
// between 50 and 500 gives the same figures; 128 stays.
const (
	stuckDeclines = 16
	stuckAfter    = 10 * time.Second
	stuckCrowd    = 8 * stuckDeclines
	stuckRatio    = 4
)

// seededGrace bounds how long a complete holder online (seeded) keeps a
// part from counting as lacking (stuck, or its holder left) after it last
// went out: "complete" is the holder's claim, and one device announcing
// a content complete without serving it would otherwise leave every part
// its crowd loses to the repeat budget.
const seededGrace = time.Minute

// seededClaim: within seededGrace, a complete holder's claim covers only
// the parts that do not stand out (refused to stuckRatio times as many
// sharers as the others on average, each once: originaskers.go). A
// stalled device (online, announcing, answering every request busy) that
// completed from the origin and the crowd claims every part: while every
// part spreads, none stands out and the claim holds as before; a part
// whose first copy went to a stalled holder does stand out (the crowd
// gets the others and asks the origin for it alone), and the claim kept
// it from being given again until the grace ran out: in the simulator's
// stalled runs (swarmsim -stalled 4) about half the crowds took 61-76 s
// instead of ~13. With one part handed out there is nothing to compare
// with (the first seconds of a crowd), and the claim holds.

// Bounds on what an OriginBudget remembers (reads come from the network).
const (
	maxTallies      = 4096    // contents tracked at once
	maxTallyOffsets = 1 << 16 // distinct read offsets tracked per content
)

// originTally is one content's episode: the parts handed out once and the
// repeat tokens. An episode ends when the content is idle for two periods.
type originTally struct {
	served   map[int64]grant // part (read offset) → its last first copy
	declined map[int64]int   // part → refusals of it to sharers since it last went out (a sharer asking again counts again)
	// askers: part → the sharers refused it since it last went out, each
	// once (originaskers.go); distinct: the sum of their sizes. The stuck
	// ratio compares these, so one device's refusals weigh one per part.
	askers   map[int64]map[identity.ID]struct{}
	distinct int
	noted    int // askers ever added to any part's set (never decreases: windows of grant.left)
	// firstBytes: the bytes of the first copies handed out, less those
	// whose holder has since stopped sharing (a part given again because
	// its holder left replaces that copy in the count instead of adding
	// to it).
	firstBytes int64
	// regiven: the bytes taken off firstBytes so, at most the size per
	// episode: devices taking turns to fetch a content and stop sharing
	// it would otherwise get it from the origin as first copies without
	// end.
	regiven int64
	tokens  float64 // repeat bytes available
	at      time.Time
}

// grant is a part's first copy: who got it, when, how many bytes, and
// the crowd it went into (Admit's crowd); retries: how often its holder
// read it again since (reads that failed).
type grant struct {
	to      identity.ID
	at      time.Time
	n       int64
	crowd   int
	retries int
	// left: when the budget first found its holder gone (zero while it
	// holds the part); leftU, leftNoted: the part's askers and the
	// tally's noted then, so refusals since can be told from those before
	// (leftStandsOut).
	left      time.Time
	leftU     int
	leftNoted int
}

// holderRetries is how often a part's holder may read it again as the same
// first copy (reads that failed: a connection lost, a timeout on a loaded
// machine); beyond, its reads are any other device's (the repeat budget).
const holderRetries = 2

func (b *OriginBudget) share() float64 {
	if b.RepeatShare > 0 {
		return b.RepeatShare
	}
	return 0.1
}

func (b *OriginBudget) period() time.Duration {
	if b.RepeatPeriod > 0 {
		return b.RepeatPeriod
	}
	return 5 * time.Minute
}

// Admit decides a read of n bytes at off of content c (size bytes in all)
// by asker. others: another online device holds or downloads c and may
// give it to the asker; seeded: one of those holds all of c (announced it
// complete); sharer: the asker itself offers c on (an announced holder);
// crowd: how many other devices hold or download c online, whatever their
// policy (the demand on the origin; 0 if not counted, as a small crowd);
// holds(id) tells whether device id is still such a sharer (a part handed
// to a device that left is again a part the crowd lacks). When it
// refuses, retry is when the repeat budget would allow the read.
func (b *OriginBudget) Admit(c sealed.ContentID, size, off, n int64, asker identity.ID, others, seeded, sharer bool, crowd int, holds func(identity.ID) bool, now time.Time) (ok bool, retry time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	capacity := b.share() * float64(size)
	rate := capacity / b.period().Seconds() // bytes per second
	t := b.m[c]
	if t == nil || now.Sub(t.at) > 2*b.period() {
		if b.m == nil {
			b.m = make(map[sealed.ContentID]*originTally)
		}
		if len(b.m) >= maxTallies {
			for k := range b.m { // forget one (the map's order is random)
				b.forget(k)
				break
			}
		}
		b.forget(c)
		t = &originTally{served: map[int64]grant{}, declined: map[int64]int{}, tokens: capacity, at: now}
		b.m[c] = t
	}
	if d := now.Sub(t.at).Seconds(); d > 0 {
		t.tokens = min(capacity, t.tokens+d*rate)
	}
	t.at = now
	g, given := t.served[off]
	// A first copy: the part never went to a sharer, or went to one that
	// no longer holds it, or its holder asks again (see again).
	// First copies add up to twice the size at most, whatever the offsets
	// (overlapping reads cannot turn one content into many "first"
	// parts). A copy whose holder left is gone from the crowd: the part's
	// new first copy takes its place in that sum. Counting both, a title
	// one device downloaded alone and stopped sharing left a crowd coming
	// after it one size of first copies for exactly its parts: a single
	// part given twice (a failed read asked again) left the last part to
	// the repeat budget, which the crowd's first seconds had spent, and
	// 200 devices waited ~70 s at 31 of 32 chunks for it to refill.
	// Copies that left are taken off the sum for one size per episode at
	// most (regiven), so first copies stay bounded (three sizes).
	// A part that many sharers were refused since it went out is evidently
	// not spreading (its holder cannot serve it): it counts as lacking.
	// Not while a device the asker may copy from holds every part
	// (seeded): the part went through the crowd, and that device passes
	// it on. In a crowd of thousands every part is refused hundreds of
	// times while it spreads (devices whose few peers have nothing for
	// them yet ask the origin), and counting those gave 18 of 32 parts
	// out again as stuck, each at stuckAfter (the simulator at N = 10,000,
	// 10 % leaving, 30 % free riders: origin 1.66 × the size).
	// A part whose holder left is lacking again, but not while a complete
	// holder the asker may copy from is online, for the same reason: a
	// crowd arriving over a minute, 30 % leaving mid-download, had parts
	// given again 31 s in, after their holder had passed them on 8 times
	// and devices had completed (simulator, N = 1,000: origin 1.50 → 1.44).
	// In a crowd of stuckCrowd or more, a part whose holder left is
	// lacking only if it stands out (as a stuck part) when the part went
	// into such a crowd stuckAfter or more before: its holder has passed
	// it on by then, or the crowd asks the origin for that part alone. A
	// churner leaving 9.4 s after its part went out had served it 40
	// times, and 5,173 online devices held it when it was given again
	// (simulator, N = 10,000, seed 3). A part whose holder left sooner is
	// given again at once: the crowd may well not have it (seed 2: three
	// of four such parts had no online holder at 1 s, and waiting for
	// them to stand out against the first seconds' refusals took 13 s
	// and doubled the median time); and so is one its holder got alone
	// (a crowd arriving after a device downloaded and left). Unless the
	// holder announced its leaving (Announced) passedOnAfter or more after
	// the part went out: then it has passed it on (originleft.go).
	d := t.declined[off]
	late := now.Sub(g.at) >= stuckAfter
	u := len(t.askers[off])
	standsOut := d >= stuckDeclines && u*(len(t.served)-1) >= stuckRatio*(t.distinct-u) // originaskers.go
	// The seed's claim, for a while, and only for a part that does not
	// stand out (seededClaim).
	trusted := seeded && now.Sub(g.at) < seededGrace && (len(t.served) < 2 || !standsOut)
	lacking := crowd < stuckCrowd || standsOut // a small crowd: the count alone
	// When the holder's leaving was announced (Announced), how long it
	// shared the part says whether it passed it on (originleft.go);
	// otherwise the part is taken as passed on once it went out
	// stuckAfter before.
	reported := !g.left.IsZero()
	passedOn := g.crowd >= stuckCrowd && (late || reported && g.left.Sub(g.at) >= passedOnAfter)
	left := given && !trusted && g.to != asker && !holds(g.to) &&
		(!passedOn || lacking || reported && leftStandsOut(t, g, u))
	var gone int64 // the bytes of a copy whose holder left
	if left {
		gone = max(0, min(g.n, size-t.regiven))
	}
	// again: the part's holder asks for it again (a read that failed). It
	// gets it holderRetries times more, while first copies are under their
	// cap, as the same copy: the grant keeps its time and its refusals, and the first
	// copies' sum does not grow. Before, every such read was a new first
	// copy, so a holder that does not pass the part on (claiming to hold
	// all of it or not) could read it again every few seconds: the part
	// "just went out" each time and never counted as stuck (nor as left:
	// a claimed complete holder's grace began again), the crowd had it
	// only from the repeat budget, and the reads added up to the first
	// copies' cap, after which nobody got a first copy. For the same
	// reason a stuck part is not given again to its holder.
	again := given && g.to == asker && g.retries < holderRetries
	stuck := given && !trusted && g.to != asker && d >= stuckDeclines && late && lacking
	first := (!given || again || stuck || left) && t.firstBytes-gone+n <= 2*size
	switch {
	case !sharer || !first:
	case again:
		g.retries++
		t.served[off] = g
	case given || len(t.served) < maxTallyOffsets:
		t.served[off] = grant{to: asker, at: now, n: n, crowd: crowd}
		if crowd >= stuckCrowd {
			b.noteRecent(c, off, asker, now)
		}
		t.firstBytes += n - gone
		t.regiven += gone
		delete(t.declined, off)
		b.dropAskers(t, off)
	}
	switch {
	case !others:
		return true, 0 // nobody else to ask
	case first && sharer:
		return true, 0 // its first copy, to a device that passes it on
	case t.tokens >= min(float64(n), capacity):
		t.tokens -= float64(n) // a read bigger than the budget empties it (and more)
		return true, 0
	}
	if sharer && given && len(t.declined) < maxTallyOffsets {
		t.declined[off]++
		b.noteAsker(t, off, asker, now)
	}
	if rate <= 0 {
		return false, 5 * time.Second
	}
	wait := time.Duration((min(float64(n), capacity) - t.tokens) / rate * float64(time.Second))
	return false, min(max(wait, 100*time.Millisecond), 5*time.Second)
}

// retryAfterMsHeader refines Retry-After (whole seconds) on origin_busy
// answers, as the peer protocol's Kith-Retry-After-Ms does.
const retryAfterMsHeader = "Kith-Retry-After-Ms"

// admitOrigin applies the origin budget to a read of the sealed file of c
// (size bytes): nil to serve it, or an origin_busy error with Retry-After
// set on w.
func (s *Server) admitOrigin(w http.ResponseWriter, r *http.Request, rq *request, c sealed.ContentID, size int64) error {
	off, n, ok := singleRange(r.Header.Get("Range"), size)
	if !ok {
		off, n = 0, size // no range, or one http.ServeContent will refuse
	}
	ix, err := s.online(r.Context())
	if err != nil {
		return err
	}
	// The route is public; a signed read (the client signs when it has a
	// device) says who asks, so a sharer gets its first copies.
	dev := rq.device
	claimed := r.Header.Get(HeaderDevice) != ""
	if dev == nil && claimed {
		d, err := s.authenticate(r, nil)
		if err == nil {
			dev = d
		} else {
			s.log.Debug("origin read: signature not accepted; budgeted as a stranger's", "content", c, "err", err)
		}
	}
	now := s.now()
	var others, seeded, sharer bool
	var crowd int
	var asker identity.ID
	switch {
	case dev != nil:
		others, seeded, sharer, crowd = ix.crowdOf(c, now, dev, s.unreachableFrom(rq.ip))
		asker = dev.ID
	case !claimed:
		// Peers serve only enrolled devices: an unsigned read has nobody
		// else to ask.
		return nil
	default:
		// A read signed for a device that did not authenticate (a replayed
		// or stale signature: an HTTP client retrying a request it had
		// signed once, a request that queued past the time window) is not
		// an unsigned one, served free. It gets what the repeat budget
		// allows while others hold the content.
		others, seeded, _, crowd = ix.crowdOf(c, now, nil, s.unreachableFrom(rq.ip))
	}
	holds := func(id identity.ID) bool { return ix.sharing(c, now, id) }
	ok, retry := s.o.Origin.Admit(c, size, off, n, asker, others, seeded, sharer, crowd, holds, now)
	if ok {
		return nil
	}
	s.metrics.originBusy.add(c.String(), 1)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	w.Header().Set(retryAfterMsHeader, strconv.FormatInt(retry.Milliseconds(), 10))
	return newError(http.StatusServiceUnavailable, CodeOriginBusy,
		"the origin handed this part of %s to the devices downloading it; ask them, or the origin again in %s", c, retry.Round(time.Millisecond))
}

// singleRange parses "bytes=a-b" or "bytes=a-" (the only forms the client
// sends) against a file of size bytes.
func singleRange(h string, size int64) (off, n int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false
		}
		last = min(last, size-1)
	}
	return first, last - first + 1, true
}
