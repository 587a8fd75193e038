package share

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/sealed"
)

// ErrNoDirectory is returned by operations that need a directory when the node has none.
var ErrNoDirectory = errors.New("node has no directory")

// directoryInfo returns (and caches) the directory's info: its keys.
func (n *Node) directoryInfo(ctx context.Context) (*directory.Info, error) {
	if n.dirClient() == nil {
		return nil, ErrNoDirectory
	}
	n.mu.Lock()
	info := n.dirInfo
	n.mu.Unlock()
	if info != nil {
		return info, nil
	}
	info, err := n.dirClient().Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking the directory for its keys: %w", err)
	}
	if info.Keys.ID() != n.dirClient().Fingerprint() {
		return nil, fmt.Errorf("directory keys do not match its fingerprint %s", n.dirClient().Fingerprint().Short())
	}
	n.mu.Lock()
	n.dirInfo = info
	n.mu.Unlock()
	return info, nil
}

// sealRegistration builds our registration for titleID sealed to the
// directory; it returns its nonce too.
func (n *Node) sealRegistration(ctx context.Context, titleID string, pay *license.Payment) (*license.SealedRegistration, []byte, error) {
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, 16)
	if _, err := crand.Read(nonce); err != nil {
		return nil, nil, err
	}
	account := n.accountName()
	if account == "" {
		return nil, nil, errors.New("sign in first: this device has no account")
	}
	r := license.Registration{TitleID: titleID, Account: account, Device: n.id.Public(), Payment: pay, Nonce: nonce, Time: time.Now()}
	s, err := license.SealRegistration(r, n.id, info.Keys.Box)
	if err != nil {
		return nil, nil, fmt.Errorf("sealing registration: %w", err)
	}
	return s, nonce, nil
}

// Buy registers (and pays for, with pay) titleID with the directory: flow 2.
// The license is stored; the title is added to the library.
func (n *Node) Buy(ctx context.Context, titleID string, pay *license.Payment) (*directory.Registered, error) {
	s, _, err := n.sealRegistration(ctx, titleID, pay)
	if err != nil {
		return nil, fmt.Errorf("buying %q: %w", titleID, err)
	}
	reg, err := n.dirClient().Register(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("buying %q: %w", titleID, err)
	}
	if err := n.keep(ctx, titleID, reg.License); err != nil {
		return nil, fmt.Errorf("buying %q: %w", titleID, err)
	}
	return reg, nil
}

// Register is Buy for a free title or one the account already owns.
func (n *Node) Register(ctx context.Context, titleID string) (*directory.Registered, error) {
	return n.Buy(ctx, titleID, nil)
}

// RegisterVia registers titleID through neighbour nb (flow 1): our sealed
// registration travels via nb, which cannot read or alter it; the directory
// credits nb as supplier and our license and receipt come back the same
// way, sealed to us and signed by the directory. An answer nb altered is
// refused; the purchase it answered stands, and registering again gets it
// without a second charge.
func (n *Node) RegisterVia(ctx context.Context, nb Neighbour, titleID string, pay *license.Payment) (*directory.Registered, error) {
	c, err := n.Peer(nb.ID, nb.Addrs)
	if err != nil {
		return nil, err
	}
	s, nonce, err := n.sealRegistration(ctx, titleID, pay)
	if err != nil {
		return nil, fmt.Errorf("registering %q via %s: %w", titleID, nb.ID.Short(), err)
	}
	sealed, err := c.Relay(ctx, s)
	if err != nil {
		return nil, err
	}
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("registering %q via %s: %w", titleID, nb.ID.Short(), err)
	}
	reg, err := directory.OpenRelayAnswer(sealed, n.id, info.Keys.Sign, nonce)
	if err != nil {
		// Altered or replaced on the way: the purchase (if any) stands at
		// the directory, and registering again gets it without a charge.
		return nil, fmt.Errorf("registering %q via %s: %w", titleID, nb.ID.Short(), err)
	}
	if err := n.keep(ctx, titleID, reg.License); err != nil {
		return nil, fmt.Errorf("registering %q via %s: %w", titleID, nb.ID.Short(), err)
	}
	return reg, nil
}

// keep checks a license (signed by our directory, issued to this device
// for its content, unexpired) and stores it with its title.
func (n *Node) keep(ctx context.Context, titleID string, l *license.License) error {
	if l == nil {
		return errors.New("no license")
	}
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return err
	}
	// Checked, not opened: the content key is unwrapped once, at play.
	if err := license.Verify(l, n.ID(), info.Keys.Sign, l.ContentID, time.Now()); err != nil {
		return fmt.Errorf("checking license: %w", err)
	}
	b, err := l.Marshal()
	if err != nil {
		return err
	}
	if err := n.lib.PutLicense(ctx, l.ContentID, b); err != nil {
		return err
	}
	if t, err := n.dirClient().Title(ctx, titleID); err == nil {
		return n.keepTitle(ctx, t)
	}
	return nil
}

// Licensed reports whether a license for cid usable now is stored: issued
// to this device under its current account.
func (n *Node) Licensed(ctx context.Context, cid sealed.ContentID) bool {
	_, ok := n.storedLicense(ctx, cid)
	return ok
}

// storedLicense is the stored license of cid if it was issued to this
// device under its current account; one under another account (one the
// device has left) is not this account's.
func (n *Node) storedLicense(ctx context.Context, cid sealed.ContentID) (*license.License, bool) {
	b, err := n.lib.License(ctx, cid)
	if err != nil {
		return nil, false
	}
	l, err := license.Parse(b)
	if err != nil || l.Device != n.ID() || l.Account != n.accountName() {
		return nil, false
	}
	return l, true
}

// GetKey returns our license for cid (flow 3: ciphertext first, key later):
// the stored one, or one the directory re-issues because our account owns
// the title; with pay (or for a free title) it registers the title first.
func (n *Node) GetKey(ctx context.Context, cid sealed.ContentID, pay *license.Payment) (*license.License, error) {
	if l, ok := n.storedLicense(ctx, cid); ok {
		return l, nil
	}
	if n.dirClient() == nil {
		return nil, ErrNoDirectory
	}
	l, err := n.dirClient().License(ctx, cid)
	if err == nil {
		ts, _ := n.lib.TitlesFor(ctx, cid)
		id := ""
		if len(ts) > 0 {
			id = ts[0].ID
		}
		if err := n.keep(ctx, id, l); err != nil {
			return nil, err
		}
		return l, nil
	}
	var de *directory.Error
	if !errors.As(err, &de) || (de.Status != 402 && de.Status != 403 && de.Status != 404) {
		return nil, fmt.Errorf("getting key of %s: %w", cid, err)
	}
	ts, terr := n.lib.TitlesFor(ctx, cid)
	if terr != nil || len(ts) == 0 {
		return nil, fmt.Errorf("getting key of %s: not owned, and no title known to register: %w", cid, err)
	}
	reg, err := n.Buy(ctx, ts[0].ID, pay)
	if err != nil {
		return nil, err
	}
	return reg.License, nil
}

// ContentKey opens our license for cid (in memory only).
func (n *Node) ContentKey(ctx context.Context, cid sealed.ContentID) ([]byte, error) {
	l, err := n.GetKey(ctx, cid, nil)
	if err != nil {
		return nil, err
	}
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return nil, err
	}
	return license.Open(l, n.id, info.Keys.Sign, cid, time.Now())
}

// Open is Title(cid).Open: a verified plaintext reader that can start
// before the download completes.
func (n *Node) Open(ctx context.Context, cid sealed.ContentID) (*sealed.Reader, error) {
	return n.Title(cid).Open(ctx)
}

// busyFor bounds how long retryBusy keeps asking a busy directory, and
// netRetries how often it asks again after a failure to reach it at all.
const (
	busyFor    = 2 * time.Minute
	netRetries = 3
)

// retryBusy runs op again while the directory answers "busy" (503, a cap
// on work in flight) or "rate limited" (429), for up to busyFor, and after
// a connection that failed (a loaded directory closing it, a network
// blip) up to netRetries times: a crowd starting together must not lose
// downloads to a directory that only asked it to come back. Each wait is
// the longer of what the directory names and a back-off doubling from
// 250 ms to 8 s, jittered, so a crowd of hundreds does not come back in
// step and keep the directory busy. Other answers are returned at once.
func retryBusy(ctx context.Context, op func() error) error {
	return retryDirectory(ctx, netRetries, op)
}

// retryRefused is retryBusy without asking again after a failed
// connection: for a request that must not be sent twice when its answer
// was lost (publishing), retried only when the directory refused it before
// doing anything (busy, rate limited).
func retryRefused(ctx context.Context, op func() error) error {
	return retryDirectory(ctx, 0, op)
}

// retryDirectory is retryBusy with at most maxNets retries after a failed
// connection.
func retryDirectory(ctx context.Context, maxNets int, op func() error) error {
	nets := 0
	start := time.Now()
	for try := 0; ; try++ {
		err := op()
		switch {
		case err == nil || time.Since(start) >= busyFor:
			return err
		case ctx.Err() != nil:
			return errors.Join(err, ctx.Err())
		}
		var de *directory.Error
		switch {
		case errors.As(err, &de):
			if de.Code != directory.CodeBusy && de.Code != directory.CodeRateLimited {
				return err
			}
		case nets < maxNets:
			nets++
		default:
			return err
		}
		wait := backoff(try)
		if de != nil {
			wait = max(wait, min(de.RetryAfter, 8*time.Second))
		}
		wait = wait/2 + rand.N(wait)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// backoff is the wait before asking a busy directory again for the
// try-th time: 250 ms doubling up to 8 s.
func backoff(try int) time.Duration { return 250 * time.Millisecond << min(try, 5) }
