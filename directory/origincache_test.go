package directory

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// TestOriginCacheFollowsFolder: lookups answer from a listing of the origin
// folder while it is unchanged, and a file added or removed by another
// process (publish renames one in) shows within originCacheTTL, whether the
// folder had settled or had just changed.
func TestOriginCacheFollowsFolder(t *testing.T) {
	dir := t.TempDir()
	s := &Server{o: Options{OriginDir: dir}, now: time.Now}
	ids := make([]sealed.ContentID, 3)
	for i := range ids {
		_, _ = rand.Read(ids[i][:])
	}
	write := func(c sealed.ContentID) {
		t.Helper()
		if err := os.WriteFile(OriginPath(dir, c), []byte("sealed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settle := func() { // the folder's time far enough back to be trusted
		t.Helper()
		old := time.Now().Add(-10 * time.Second)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(when string, want ...bool) {
		t.Helper()
		for i, c := range ids {
			if got := s.originHas(c); got != want[i] {
				t.Errorf("%s: originHas(content %d) = %v, want %v", when, i, got, want[i])
			}
		}
	}
	write(ids[0])
	// not a content file: an upload's temporary file, a folder named as a content
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(OriginPath(dir, ids[2]), 0o755); err != nil {
		t.Fatal(err)
	}
	settle()
	expect("settled folder", true, false, false)
	s.origins.mu.Lock()
	listed := s.origins.names != nil
	s.origins.mu.Unlock()
	if !listed {
		t.Fatal("a settled origin folder was not listed")
	}

	write(ids[1]) // the folder changes: seen after originCacheTTL at most
	time.Sleep(originCacheTTL + 50*time.Millisecond)
	expect("after an add", true, true, false)

	settle()
	time.Sleep(originCacheTTL + 50*time.Millisecond)
	expect("settled again", true, true, false)
	if err := os.Remove(OriginPath(dir, ids[0])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(originCacheTTL + 50*time.Millisecond)
	expect("after a removal", false, true, false)

	// a folder that cannot be read: each content stat'ed
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(originCacheTTL + 50*time.Millisecond)
	expect("folder gone", false, false, false)
}

// TestOriginCacheFollowsClock: the origin cache ages by the server's clock
// (Options.Now), as the rest of the server does: a file added or removed
// shows once that clock moves originCacheTTL on, both from a listing of a
// settled folder and from a per-content stat while the folder has just
// changed, and not before. (It read time.Now, so moving the clock showed
// nothing until a real second had passed.)
func TestOriginCacheFollowsClock(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	clock := time.Now()
	move := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	s := &Server{o: Options{OriginDir: dir}, now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }}
	var a, b sealed.ContentID
	_, _ = rand.Read(a[:])
	_, _ = rand.Read(b[:])
	write := func(c sealed.ContentID) {
		t.Helper()
		if err := os.WriteFile(OriginPath(dir, c), []byte("sealed"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	settle := func() { // the folder's time far enough back (wall clock) to be trusted
		t.Helper()
		old := time.Now().Add(-10 * time.Second)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(when string, wantA, wantB bool) {
		t.Helper()
		if got := s.originHas(a); got != wantA {
			t.Errorf("%s: originHas(a) = %v, want %v", when, got, wantA)
		}
		if got := s.originHas(b); got != wantB {
			t.Errorf("%s: originHas(b) = %v, want %v", when, got, wantB)
		}
	}
	write(a)
	settle()
	expect("settled folder", true, false)
	s.origins.mu.Lock()
	listed := s.origins.names != nil
	s.origins.mu.Unlock()
	if !listed {
		t.Fatal("a settled origin folder was not listed")
	}

	write(b) // the listing is trusted until the clock moves originCacheTTL on
	settle()
	expect("an add, clock not moved", true, false)
	move(originCacheTTL)
	expect("an add, clock moved", true, true)

	if err := os.Remove(OriginPath(dir, a)); err != nil { // the folder changes now: stat per content
		t.Fatal(err)
	}
	move(originCacheTTL)
	expect("a removal, clock moved", false, true)
	write(a)
	expect("an add to a changing folder, clock not moved", false, true)
	move(originCacheTTL - time.Millisecond)
	expect("an add to a changing folder, clock moved less than originCacheTTL", false, true)
	move(time.Millisecond)
	expect("an add to a changing folder, clock moved", true, true)
}
