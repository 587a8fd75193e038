package share

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/lan"
)

// Neighbours found by mDNS, vouched for by the directory. An announcement
// is a claim anyone on the LAN can make: a device whose key still works
// but which the household revoked (a lost phone) keeps announcing its ID
// and our directory's fingerprint. It would be listed, and dialled first
// by every download (a LAN peer), so it would learn what this device
// fetches. So a device found by mDNS is listed only once the directory
// has said it is enrolled and not revoked (checkLAN), as a neighbour added
// by hand is when added; it is asked again every NeighbourCheckInterval,
// and one no longer vouched for is no longer listed, its cached client is
// revoked (a running download drops it) and its calls are refused at once
// (peer.Server.Refuse).
//
// Asking costs this device's directory quota, and anyone on the LAN can
// announce made-up IDs (up to lan.MaxNeighbours at once): a round asks
// about at most lanAsksPerRound devices, rounds are at least
// min(NeighbourCheckInterval, lanRoundGap) apart (at most 1.6 asks a second
// with the defaults, of a device's 50), and devices vouched for before
// are asked first, so a flood of fakes delays only new neighbours.

// Bounds of the mDNS neighbours' check (lanneighbours.go).
const (
	lanAsksPerRound = 8
	lanRoundGap     = 5 * time.Second
	// lanRefusedAgain: a device the directory did not vouch for is asked
	// about again after this (or NeighbourCheckInterval if shorter): it
	// may be one being paired, enrolled a moment later.
	lanRefusedAgain = 30 * time.Second
)

// lanVouch is the directory's last answer about a device found by mDNS.
type lanVouch struct {
	ok   bool      // enrolled and not revoked
	next time.Time // when to ask again
}

// lanVouched reports whether the directory's last answer about id, found
// by mDNS, vouched for it.
func (n *Node) lanVouched(id identity.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lanVouch[id].ok
}

// checkLANEvery checks the neighbours browser b finds, a round as soon as
// its list changes and at least every other gap, until ctx ends.
func (n *Node) checkLANEvery(ctx context.Context, b *lan.Browser) error {
	gap := min(n.o.NeighbourCheckInterval, lanRoundGap)
	last := "" // the last failure to ask, logged once
	for {
		if err := n.checkLAN(ctx, b.Neighbours()); err == nil {
			last = ""
		} else if err.Error() != last && ctx.Err() == nil {
			last = err.Error()
			n.log.Warn("checking the neighbours found on the LAN", "err", err)
		}
		for _, wake := range []<-chan struct{}{nil, b.Changes()} {
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			case <-wake: // the first wait (nil) is the gap between rounds
			}
			t.Stop()
		}
	}
}

// checkLAN asks the directory about the devices in found that are due:
// never asked, or last asked NeighbourCheckInterval ago (lanRefusedAgain
// when it did not vouch for them); at most lanAsksPerRound, those vouched
// for before first. A device it no longer vouches for, or says is
// revoked, is refused and its client revoked. A failure to ask ends the
// round (the directory is not answering, or this device is not enrolled
// yet) and is returned; what it said last is kept. Answers about devices
// no longer found are forgotten.
func (n *Node) checkLAN(ctx context.Context, found []lan.Neighbour) error {
	dc := n.dirClient()
	if dc == nil {
		return nil
	}
	now := time.Now()
	present := map[identity.ID]bool{}
	for _, f := range found {
		if id, err := identity.ParseID(f.DeviceID); err == nil && id != n.ID() {
			present[id] = true
		}
	}
	type due struct {
		id   identity.ID
		rank int // 0: vouched for before, 1: never asked, 2: refused before
	}
	var ask []due
	n.mu.Lock()
	for id := range n.lanVouch {
		if !present[id] {
			delete(n.lanVouch, id)
		}
	}
	for id := range present {
		v, asked := n.lanVouch[id]
		switch {
		case !asked:
			ask = append(ask, due{id, 1})
		case now.Before(v.next):
		case v.ok:
			ask = append(ask, due{id, 0})
		default:
			ask = append(ask, due{id, 2})
		}
	}
	n.mu.Unlock()
	slices.SortFunc(ask, func(a, b due) int { return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.id, b.id)) })
	for _, a := range ask[:min(len(ask), lanAsksPerRound)] {
		wctx, cancel := context.WithTimeout(ctx, probeTimeout) // a directory that hangs is asked next round
		d, err := dc.Whois(wctx, a.id)
		cancel()
		err = vouched(dc, a.id, d, err)
		var nv notVouchedError
		if err != nil && !errors.As(err, &nv) {
			return err
		}
		again := n.o.NeighbourCheckInterval
		if err != nil {
			again = min(again, lanRefusedAgain)
		}
		n.mu.Lock()
		was := n.lanVouch[a.id].ok
		n.lanVouch[a.id] = lanVouch{ok: err == nil, next: time.Now().Add(again)}
		n.mu.Unlock()
		switch {
		case err == nil:
		case was || d != nil && d.ID == a.id && d.Revoked:
			// Vouched for before, or revoked: refused now. Not a device
			// only not enrolled yet (one being paired announces itself
			// before it is enrolled), which the server looks up when it
			// calls.
			n.srv.Refuse(a.id)
			n.revokeClient(a.id)
			n.log.Warn("neighbour found on the LAN not listed", "device", a.id, "why", err)
		default:
			n.log.Debug("neighbour found on the LAN not listed", "device", a.id, "why", err)
		}
	}
	return nil
}
