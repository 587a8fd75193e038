package directory

import (
	"sync"

	"github.com/kith-media/kith/share/identity"
)

// keyCacheMax bounds the content keys kept open (32 bytes each).
const keyCacheMax = 4096

// keyCache keeps titles' content keys once opened: opening one is an
// X25519 agreement, a quarter of a purchase's CPU, and a title's key never
// changes. Entries are keyed by the sealed key itself, so a title stored
// again with another key is opened afresh. Holding them adds no exposure:
// the process holds the identity that opens every one of them. When full,
// it starts over.
type keyCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// open returns the content key sealed in sealedKey (ad = content ID),
// opening it with id on a miss. The caller must not modify it.
func (c *keyCache) open(id *identity.Identity, sealedKey, ad []byte) ([]byte, error) {
	k := string(sealedKey) + "\x00" + string(ad)
	c.mu.Lock()
	key, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return key, nil
	}
	key, err := id.OpenSealed(sealedKey, ad)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[string][]byte) // not cleared: a request may still be using one
	}
	c.m[k] = key
	c.mu.Unlock()
	return key, nil
}
