package directory

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestTTLCacheExpires(t *testing.T) {
	c := newTTLCache[string, int](10)
	t0 := time.Unix(1_000_000, 0)
	c.put("a", 1, t0.Add(time.Second))
	if v, _, ok := c.get("a", t0); !ok || v != 1 {
		t.Fatalf("get before expiry = %d, %v; want 1, true", v, ok)
	}
	if v, _, ok := c.get("a", t0.Add(999*time.Millisecond)); !ok || v != 1 {
		t.Fatalf("get 1 ms before expiry = %d, %v; want 1, true", v, ok)
	}
	if v, _, ok := c.get("a", t0.Add(time.Second)); ok {
		t.Fatalf("get at expiry = %d, true; want a miss", v)
	}
	if _, _, ok := c.get("b", t0); ok {
		t.Fatal("get of a key never put hit")
	}
	c.put("a", 2, t0.Add(2*time.Second)) // a new value replaces the expired one
	if v, _, ok := c.get("a", t0.Add(time.Second)); !ok || v != 2 {
		t.Fatalf("get after put again = %d, %v; want 2, true", v, ok)
	}
}

func TestTTLCacheForget(t *testing.T) {
	c := newTTLCache[string, string](10)
	t0 := time.Unix(1_000_000, 0)
	exp := t0.Add(time.Minute)
	c.put("dev", "enrolled", exp)
	c.forget("dev")
	if v, _, ok := c.get("dev", t0); ok {
		t.Fatalf("get after forget = %q; want a miss", v)
	}

	// A store read that began before a forget is not cached after it.
	_, gen, _ := c.get("dev", t0) // miss: the caller reads the store...
	c.forget("dev")               // ...while the device is revoked
	if c.putIf(gen, "dev", "enrolled (read before the revoke)", exp) {
		t.Fatal("putIf stored a value read before a forget")
	}
	if v, _, ok := c.get("dev", t0); ok {
		t.Fatalf("get = %q after a stale putIf; want a miss", v)
	}
	// A forget of another key counts too (one generation for the cache).
	_, gen, _ = c.get("dev", t0)
	c.forget("other")
	if c.putIf(gen, "dev", "stale?", exp) {
		t.Fatal("putIf stored across a forget of another key")
	}
	// With no forget in between, putIf stores.
	_, gen, _ = c.get("dev", t0)
	if !c.putIf(gen, "dev", "fresh", exp) {
		t.Fatal("putIf refused with no forget since get")
	}
	if v, _, ok := c.get("dev", t0); !ok || v != "fresh" {
		t.Fatalf("get = %q, %v; want fresh, true", v, ok)
	}
	// put (a write-through) stores whatever the generation.
	c.forget("x")
	c.put("dev", "announced", exp)
	if v, _, ok := c.get("dev", t0); !ok || v != "announced" {
		t.Fatalf("get after put = %q, %v; want announced, true", v, ok)
	}
}

func TestTTLCacheBounded(t *testing.T) {
	const max = 100
	c := newTTLCache[int, int](max)
	exp := time.Unix(2_000_000, 0)
	for i := range 10 * max {
		c.put(i, i, exp)
		if n := c.len(); n > max {
			t.Fatalf("after %d puts the cache holds %d entries; want ≤ %d", i+1, n, max)
		}
		if v, _, ok := c.get(i, exp.Add(-time.Second)); !ok || v != i {
			t.Fatalf("the key just put (%d) is missing: %d, %v", i, v, ok)
		}
	}
	// Replacing a key of a full cache keeps the others.
	c = newTTLCache[int, int](max)
	for i := range max {
		c.put(i, i, exp)
	}
	c.put(7, 70, exp)
	if n := c.len(); n != max {
		t.Fatalf("replacing a key of a full cache left %d entries; want %d", n, max)
	}
}

// TestTTLCacheConcurrent: readers, writers and forgets at once (run with
// -race); a value read back is always one some writer put for that key.
func TestTTLCacheConcurrent(t *testing.T) {
	c := newTTLCache[string, string](64)
	now := time.Unix(1_000_000, 0)
	exp := now.Add(time.Hour)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := fmt.Sprint(i % 100)
				switch (i + w) % 4 {
				case 0:
					c.put(k, "v"+k, exp)
				case 1:
					c.forget(k)
				default:
					v, gen, ok := c.get(k, now)
					if ok && v != "v"+k {
						t.Errorf("key %s holds %q", k, v)
						return
					}
					if !ok {
						c.putIf(gen, k, "v"+k, exp)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 64 {
		t.Fatalf("cache holds %d entries; want ≤ 64", n)
	}
}
