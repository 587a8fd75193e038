package directory_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// TestOriginAfterHolderLeft: a title one device downloaded alone from the
// origin and then stopped sharing is, for a crowd that comes after it,
// lacking again in every part. A crowd member that reads each part once,
// and a few parts twice (reads that failed, asked again), gets every part
// at once, the last as the first ones: the crowd's first copies take the
// place of the ones that left instead of adding to them. Before, the
// origin counted both against its cap on first copies (twice the size),
// so the last parts were left to the repeat budget and, once that was
// spent, refused until it refilled (an 8 MiB crowd of 200 sat ~70 s at 31
// of 32 chunks).
func TestOriginAfterHolderLeft(t *testing.T) {
	s, st, title := originTitle(t, 9)
	announce := func(dev *identity.Identity, addr, mode string) {
		t.Helper()
		body := []byte(fmt.Sprintf(`{"addrs":["%s:7000"],"holdings":[{"content":"%s","complete":false,"policy":{"mode":%q}}],"load":0}`, addr, title.ContentID, mode))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedReq(dev, "POST", "/v1/announce", body, addr+":40000"))
		if w.Code != http.StatusOK {
			t.Fatalf("announce: %d %s", w.Code, w.Body)
		}
	}
	const part = 32 << 10 // 33 parts; the repeat budget (a tenth of the size) holds 3
	ms := time.Now().UnixMilli()
	read := func(dev *identity.Identity, addr string, off int64) int {
		t.Helper()
		// Each read signed at its own millisecond: two alike are a replay.
		ms++
		path := "/v1/content/" + title.ContentID.String()
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = addr + ":40000"
		d, ts, sig := directory.SignRequest(dev, "GET", path, ms, nil)
		r.Header.Set(directory.HeaderDevice, d)
		r.Header.Set(directory.HeaderTime, ts)
		r.Header.Set(directory.HeaderSignature, sig)
		r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, min(off+part, title.Size)-1))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusPartialContent {
			t.Logf("read at %d: %d %s", off, w.Code, w.Body)
		}
		return w.Code
	}

	lone := enrollIn(t, st, "alice")
	announce(lone, "192.0.2.1", "anyone")
	for off := int64(0); off < title.Size; off += part {
		if c := read(lone, "192.0.2.1", off); c != http.StatusPartialContent {
			t.Fatalf("the lone device's read at %d: %d", off, c)
		}
	}
	announce(lone, "192.0.2.1", "nobody") // it stops sharing (its copies are gone for the others)

	a, b := enrollIn(t, st, "alice"), enrollIn(t, st, "alice")
	announce(a, "192.0.2.2", "anyone")
	announce(b, "192.0.2.3", "anyone") // a has another device to copy from: the budget applies
	for off := int64(0); off < title.Size; off += part {
		if c := read(a, "192.0.2.2", off); c != http.StatusPartialContent {
			t.Errorf("part at %d, lacking since its holder left: %d, want %d", off, c, http.StatusPartialContent)
		}
		if off < 4*part { // a read that failed, asked again: a's own part
			if c := read(a, "192.0.2.2", off); c != http.StatusPartialContent {
				t.Errorf("part at %d asked again by the device it went to: %d", off, c)
			}
		}
	}
	// The parts went out once each to a, which still shares them: b's
	// reads are repeats, from the repeat budget only.
	served := 0
	for off := int64(0); off < title.Size; off += part {
		if read(b, "192.0.2.3", off) == http.StatusPartialContent {
			served++
		}
	}
	if served > 4 {
		t.Errorf("b got %d parts a holds from the origin, want the repeat budget's 3 at most", served)
	}
}
