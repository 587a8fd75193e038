package directory

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// originCacheTTL is how long a lookup trusts what it learnt of the origin
// store: a title published or withdrawn by another process (kith-directory
// publish) shows in supplier lists this much later at most.
const originCacheTTL = time.Second

// originListMax is the most files the origin store's listing is kept for;
// a bigger store is asked file by file (cached per content, originCacheMax).
const originListMax = 1 << 20

// originListMaxAge bounds how long one listing is used however unchanged
// the folder looks (a folder on a server whose clock is far off).
const originListMaxAge = time.Minute

// originSettle is how old the folder's modification time must be before a
// listing of it is trusted past originCacheTTL: a change made later then
// carries a later time, even on a file system whose times are coarse.
const originSettle = 2 * time.Second

// originCacheMax bounds the per-content cache; when full it starts over.
const originCacheMax = 1 << 16

// originCache knows which contents the origin store holds. A lookup answers
// from a listing of the store's folder while the folder's modification time
// (read at most once per originCacheTTL) is the one the listing was taken
// under: publishing renames a file in, withdrawing removes one, and either
// changes it. A lookup asked for a content absent from the store, as most
// are, then costs a map read instead of a stat (a stat was ~5 µs a lookup,
// and with thousands of contents a per-content cache rarely hits). While
// the folder changed too recently to trust its time, or cannot be listed,
// each content is stat'ed and the answer kept originCacheTTL.
type originCache struct {
	mu      sync.Mutex
	checked time.Time                     // when the folder was last stat'ed (zero: never)
	mod     time.Time                     // its modification time then
	listed  time.Time                     // when names was read
	names   map[sealed.ContentID]struct{} // nil: no trusted listing
	m       map[sealed.ContentID]originSeen
	// refresh serializes reading the folder; lookups that find it taken
	// answer without waiting.
	refresh sync.Mutex
}

type originSeen struct {
	has bool
	at  time.Time
}

// originHas reports whether the origin store holds c (a file at OriginPath).
// Its cache ages by the server's clock (Options.Now), as the device cache
// does; only the folder's settling is judged by the wall clock, which the
// file system's times come from.
func (s *Server) originHas(c sealed.ContentID) bool {
	now := s.now()
	oc := &s.origins
	oc.mu.Lock()
	fresh := now.Sub(oc.checked) < originCacheTTL && !now.Before(oc.checked)
	if fresh && oc.names != nil {
		_, has := oc.names[c]
		oc.mu.Unlock()
		return has
	}
	oc.mu.Unlock()
	if !fresh && oc.refresh.TryLock() {
		s.refreshOrigins(now)
		oc.refresh.Unlock()
		oc.mu.Lock()
		if oc.names != nil {
			_, has := oc.names[c]
			oc.mu.Unlock()
			return has
		}
		oc.mu.Unlock()
	}
	return s.originStat(c, now)
}

// refreshOrigins stats the origin folder and, if it changed since the
// listing (or the listing is old), lists it again.
func (s *Server) refreshOrigins(now time.Time) {
	oc := &s.origins
	dir := s.o.OriginDir
	fi, err := os.Stat(dir)
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.checked = now
	if err != nil {
		oc.names = nil
		return
	}
	mod := fi.ModTime()
	if oc.names != nil && mod.Equal(oc.mod) && now.Sub(oc.listed) < originListMaxAge && !now.Before(oc.listed) {
		return // unchanged since the listing
	}
	oc.names, oc.mod = nil, mod
	if age := time.Since(mod); age < originSettle { // a change in the same tick could hide: stat per content
		return
	}
	oc.mu.Unlock()
	names, ok := listOrigins(dir, mod)
	oc.mu.Lock()
	if ok && oc.mod.Equal(mod) {
		oc.names, oc.listed = names, now
	}
}

// listOrigins reads the content files of dir and checks that dir was not
// changed meanwhile (its modification time is still mod): then the listing
// is the folder as it was at mod. It reports false for a folder too big to
// list or one that changed.
func listOrigins(dir string, mod time.Time) (map[sealed.ContentID]struct{}, bool) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	names := make(map[sealed.ContentID]struct{})
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			c, perr := sealed.ParseContentID(e.Name())
			if perr != nil || c.String() != e.Name() { // not a content file (an upload's temporary file)
				continue
			}
			if !e.Type().IsRegular() { // a link or anything else: as a stat sees it
				if fi, err := os.Stat(OriginPath(dir, c)); err != nil || fi.IsDir() {
					continue
				}
			}
			if len(names) >= originListMax {
				return nil, false
			}
			names[c] = struct{}{}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.ModTime().Equal(mod) {
		return nil, false
	}
	return names, true
}

// originStat stats c's origin file, trusting an answer originCacheTTL.
func (s *Server) originStat(c sealed.ContentID, now time.Time) bool {
	oc := &s.origins
	oc.mu.Lock()
	e, ok := oc.m[c]
	oc.mu.Unlock()
	if ok && now.Sub(e.at) < originCacheTTL && now.Sub(e.at) >= 0 {
		return e.has
	}
	fi, err := os.Stat(OriginPath(s.o.OriginDir, c))
	has := err == nil && !fi.IsDir()
	oc.mu.Lock()
	if oc.m == nil || len(oc.m) >= originCacheMax {
		oc.m = make(map[sealed.ContentID]originSeen)
	}
	oc.m[c] = originSeen{has: has, at: now}
	oc.mu.Unlock()
	return has
}
