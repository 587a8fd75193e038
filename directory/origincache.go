package directory

import (
	"os"
	"sync"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// originCacheTTL is how long a lookup trusts what it learnt of the origin
// store's holding a content: a title published or withdrawn by another
// process (kith-directory publish) shows in supplier lists this much later
// at most. A stat per lookup was 5 % of its server CPU.
const originCacheTTL = time.Second

// originCacheMax bounds the cache; when full it starts over.
const originCacheMax = 1 << 16

// originCache remembers, per content, whether the origin store has it.
type originCache struct {
	mu sync.Mutex
	m  map[sealed.ContentID]originSeen
}

type originSeen struct {
	has bool
	at  time.Time
}

// originHas reports whether the origin store holds c (a file at OriginPath).
func (s *Server) originHas(c sealed.ContentID) bool {
	now := time.Now()
	oc := &s.origins
	oc.mu.Lock()
	e, ok := oc.m[c]
	oc.mu.Unlock()
	if ok && now.Sub(e.at) < originCacheTTL && now.Sub(e.at) >= 0 {
		return e.has
	}
	_, err := os.Stat(OriginPath(s.o.OriginDir, c))
	has := err == nil
	oc.mu.Lock()
	if oc.m == nil || len(oc.m) >= originCacheMax {
		oc.m = make(map[sealed.ContentID]originSeen)
	}
	oc.m[c] = originSeen{has: has, at: now}
	oc.mu.Unlock()
	return has
}
