package directory_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// leftCrowd is a directory (real SQLite store, a clock the test moves)
// whose origin holds a 1 MiB title read in 32 parts of 32 KiB, and a
// crowd of 140 devices announcing it: part p's first copy went to
// device p, and the repeat budget is spent.
type leftCrowd struct {
	t     *testing.T
	s     *directory.Server
	title *directory.Title
	devs  []*identity.Identity
	mu    sync.Mutex
	now   time.Time
	ms    int64
}

const leftPart = 32 << 10

func newLeftCrowd(t *testing.T) *leftCrowd {
	t.Helper()
	p := publishTitle(t, 17, 1<<20, sqlitestore.Options{})
	st, id, origin, title := p.st, p.id, p.origin, p.title
	var err error
	lc := &leftCrowd{t: t, title: title, now: time.Now(), ms: time.Now().UnixMilli()}
	lc.s, err = directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: origin, Logger: slog.New(slog.DiscardHandler),
		RateIP: -1, RateDevice: -1, Now: lc.clock})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 140 { // a crowd of stuckCrowd (128) or more, 32 devices an account
		d := enrollIn(t, st, fmt.Sprintf("crowd%d", i/32))
		lc.devs = append(lc.devs, d)
		lc.announce(i, true)
	}
	for p := range 32 {
		if c := lc.read(p, p); c != http.StatusPartialContent {
			t.Fatalf("part %d's first copy: %d", p, c)
		}
	}
	for k := 0; lc.read(139, 1+k%31) == http.StatusPartialContent; k++ {
		if k > 8 {
			t.Fatal("the repeat budget never ran out")
		}
	}
	return lc
}

func (lc *leftCrowd) clock() time.Time {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.now
}

func (lc *leftCrowd) advance(d time.Duration) {
	lc.mu.Lock()
	lc.now = lc.now.Add(d)
	lc.mu.Unlock()
}

// announce has device i announce the title (shares) or nothing (it left).
func (lc *leftCrowd) announce(i int, shares bool) {
	lc.t.Helper()
	holdings := "[]"
	if shares {
		holdings = fmt.Sprintf(`[{"content":"%s","complete":false,"policy":{"mode":"anyone"}}]`, lc.title.ContentID)
	}
	addr := fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)
	body := []byte(fmt.Sprintf(`{"addrs":["%s:7000"],"holdings":%s,"load":0}`, addr, holdings))
	w := httptest.NewRecorder()
	lc.s.ServeHTTP(w, signedReq(lc.devs[i], "POST", "/v1/announce", body, addr+":40000"))
	if w.Code != http.StatusOK {
		lc.t.Fatalf("announce %d: %d %s", i, w.Code, w.Body)
	}
}

// read is device i's signed read of part p from the origin: its status.
func (lc *leftCrowd) read(i, p int) int {
	lc.t.Helper()
	lc.ms++ // each read signed at its own millisecond: two alike are a replay
	path := "/v1/content/" + lc.title.ContentID.String()
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = fmt.Sprintf("10.0.%d.%d:40000", i/250, 1+i%250)
	d, ts, sig := directory.SignRequest(lc.devs[i], "GET", path, lc.ms, nil)
	r.Header.Set(directory.HeaderDevice, d)
	r.Header.Set(directory.HeaderTime, ts)
	r.Header.Set(directory.HeaderSignature, sig)
	off := int64(p * leftPart)
	r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, min(off+leftPart, lc.title.Size)-1))
	w := httptest.NewRecorder()
	lc.s.ServeHTTP(w, r)
	return w.Code
}

// TestOriginLeftAfterSharing: in a crowd of 128 or more, a device that
// shared its part for 4 s or more and then announced it stopped sharing
// the title has passed the part on (the simulator: such parts had
// reached 3-5,956 devices): the part is not handed out again, as a
// first copy, to the next device that asks. Before, any part whose
// holder left less than 10 s after it went out was given again at once
// (N = 10,000: 1-4 parts of 32 on 7 of 7 seeds).
func TestOriginLeftAfterSharing(t *testing.T) {
	lc := newLeftCrowd(t)
	lc.advance(5 * time.Second)
	lc.announce(0, false) // part 0's holder stops sharing the title
	for i := 40; i < 43; i++ {
		if c := lc.read(i, 0); c != http.StatusServiceUnavailable {
			t.Errorf("device %d asking for part 0, whose holder shared it 5 s and left: %d, want %d (busy: the crowd has it)",
				i, c, http.StatusServiceUnavailable)
		}
	}
}

// TestOriginLeftAtOnce: a part whose holder announced it stopped sharing
// the title 1 s after it went out is likely lost (the simulator: every
// part found with no online holder had a holder that left within 3.4 s):
// it is given again at once.
func TestOriginLeftAtOnce(t *testing.T) {
	lc := newLeftCrowd(t)
	lc.advance(time.Second)
	lc.announce(0, false)
	if c := lc.read(40, 0); c != http.StatusPartialContent {
		t.Errorf("part 0, its holder gone 1 s after it went out: %d, want %d", c, http.StatusPartialContent)
	}
}

// TestOriginLeftLostStandsOut: fail closed. A part whose holder shared it
// 5 s and left without passing it on is still given again once the
// crowd asks the origin for it alone: here, after 16 sharers were
// refused it since the holder left and none any other part.
func TestOriginLeftLostStandsOut(t *testing.T) {
	lc := newLeftCrowd(t)
	lc.advance(5 * time.Second)
	lc.announce(0, false)
	given := -1
	for i := 40; i < 80 && given < 0; i++ {
		if lc.read(i, 0) == http.StatusPartialContent {
			given = i - 40
		}
	}
	if given != 16 {
		t.Errorf("part 0, lost, given again to the sharer asking after %d refusals, want 16", given)
	}
}
