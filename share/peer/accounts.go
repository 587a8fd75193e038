package peer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// Whoiser looks a device up in the directory (*directory.Client implements it).
type Whoiser interface {
	Whois(ctx context.Context, id identity.ID) (*directory.Device, error)
}

// WhoisAccounts implements Accounts with the directory's Whois and a cache
// (answers, including "unknown device", are kept for ttl; revoked devices
// have no account).
func WhoisAccounts(w Whoiser, ttl time.Duration) Accounts {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &whoisAccounts{w: w, ttl: ttl, m: map[identity.ID]cachedAccount{}}
}

type cachedAccount struct {
	account string
	expires time.Time
}

type whoisAccounts struct {
	w   Whoiser
	ttl time.Duration
	mu  sync.Mutex
	m   map[identity.ID]cachedAccount
}

func (a *whoisAccounts) Account(ctx context.Context, id identity.ID) (string, error) {
	now := time.Now()
	a.mu.Lock()
	c, ok := a.m[id]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.account, nil
	}
	d, err := a.w.Whois(ctx, id)
	if err != nil {
		var de *directory.Error
		if !(errors.As(err, &de) && de.Status == 404) {
			return "", err // transient: do not cache
		}
		d = nil
	}
	acct := ""
	if d != nil && !d.Revoked {
		acct = d.Account
	}
	a.mu.Lock()
	if len(a.m) > 10000 {
		a.m = map[identity.ID]cachedAccount{}
	}
	a.m[id] = cachedAccount{account: acct, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return acct, nil
}
