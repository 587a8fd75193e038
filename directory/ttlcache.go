package directory

import (
	"sync"
	"time"
)

// ttlCache is the one small cache of store records the server keeps in
// memory (enrolled devices, devices' own announcements, titles): a value
// per key with its expiry, bounded in entries, safe for concurrent use.
//
// Invalidation rules every user relies on:
//   - get answers a value only while now is before its expiry;
//   - forget drops a key at once, and a store read that began before the
//     forget (getGen taken earlier) is not stored after it by putIf — it
//     may hold the record as it was before the change that forgot it;
//   - put stores unconditionally (a write-through of the record just
//     written);
//   - when the cache holds max entries, the next new key starts it over
//     (a full cache is a flood of distinct keys; starting over bounds the
//     memory and costs only store reads).
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
	gen uint64 // counts forgets
	max int
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

// newTTLCache returns an empty cache of at most max entries (max ≥ 1).
func newTTLCache[K comparable, V any](max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{m: make(map[K]ttlEntry[V]), max: max}
}

// get returns the value under k while now is before its expiry, and the
// generation to hand to putIf after reading the store on a miss.
func (c *ttlCache[K, V]) get(k K, now time.Time) (v V, gen uint64, ok bool) {
	c.mu.Lock()
	e, found := c.m[k]
	gen = c.gen
	c.mu.Unlock()
	if found && now.Before(e.exp) {
		return e.v, gen, true
	}
	return v, gen, false
}

// put stores v under k until exp.
func (c *ttlCache[K, V]) put(k K, v V, exp time.Time) {
	c.mu.Lock()
	c.putLocked(k, v, exp)
	c.mu.Unlock()
}

// putIf stores v under k until exp unless a forget ran since get returned
// gen (v was read from the store before that change and may be stale).
// It reports whether v was stored.
func (c *ttlCache[K, V]) putIf(gen uint64, k K, v V, exp time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	c.putLocked(k, v, exp)
	return true
}

func (c *ttlCache[K, V]) putLocked(k K, v V, exp time.Time) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, exp: exp}
}

// forget drops k; reads of the store begun before it are not cached.
func (c *ttlCache[K, V]) forget(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.gen++
	c.mu.Unlock()
}

// len returns the number of entries held (expired ones included).
func (c *ttlCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
