package directory

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/kith-media/kith/share/identity"
)

// A heartbeat repeats the device's holdings every AnnounceInterval though
// they rarely change: the whole set, one JSON object a title (~150 bytes;
// a library of a thousand titles sends 150 KiB every 30 s, which the
// directory decodes, validates and hashes to find it unchanged). So an
// announcement may name its holdings by digest instead (holdings_same:
// HoldingsDigest of the set): the directory takes the set from the
// device's last announcement it keeps in memory (askers) when that set's
// digest is the one named, else answers 409 CodeHoldingsUnknown and the
// client sends the set in full. The digest is the directory's check, not
// the client's word: a client that guesses wrong (its last announcement
// was not the last recorded, the directory restarted, the announcement
// expired or was withdrawn) costs one round trip more, never a wrong set.
// A device names only its own last set (the authenticated device's
// entry); the set was validated when it came in full, and the revocation
// check, the store write and the index are those of a full announcement.
//
// Compatibility: an older client never sends the field; an older
// directory refuses it as an unknown field (400, decodeStrict), and the
// client then sends the set in full and stops naming it to that directory.

// sameHoldingsKey counts, in the requests metric, announcements whose
// holdings were named by digest and found (route "announce_same").
var sameHoldingsKey = requestsKey("announce_same", http.StatusOK)

// sameHoldings puts into a the holdings its HoldingsSame names: those of
// the device's last announcement, if their digest is that.
func (s *Server) sameHoldings(id identity.ID, a *Announcement) error {
	if a.HoldingsSame == nil {
		return nil
	}
	last, _, ok := s.askers.get(id, s.now())
	if !ok || last == nil || !bytes.Equal(HoldingsDigest(last.Holdings), a.HoldingsSame) {
		return newError(http.StatusConflict, CodeHoldingsUnknown,
			"holdings_same: not the holdings of this device's last announcement here; send them in full")
	}
	a.Holdings, a.HoldingsSame = last.Holdings, nil // never written to: shared with the last record
	s.metrics.requests.add(sameHoldingsKey, 1)
	return nil
}

// announce posts a to path (POST /v1/announce, with its query) into out,
// naming its holdings by digest when they are those this client last
// announced in full (see above), and in full when the directory does not
// know them by that digest or does not understand it.
func (c *Client) announce(ctx context.Context, path string, a Announcement, out any) error {
	digest := HoldingsDigest(a.Holdings)
	c.mu.Lock()
	same := !c.noSame && bytes.Equal(c.lastHeld, digest)
	c.mu.Unlock()
	if same {
		short := a
		short.Holdings, short.HoldingsSame = nil, digest
		err := c.do(ctx, http.MethodPost, path, short, asDevice, out)
		var e *Error
		switch {
		case err == nil:
			c.mu.Lock()
			c.sameMisses = 0
			c.mu.Unlock()
			return nil
		case errors.As(err, &e) && e.Status == http.StatusConflict && e.Code == CodeHoldingsUnknown:
			c.mu.Lock()
			// Missed three times running (directory instances sharing a
			// store, each keeping its own last announcements, taking
			// turns): each miss costs a round trip, so stop naming.
			c.sameMisses++
			c.noSame = c.noSame || c.sameMisses >= 3
			c.mu.Unlock()
		case errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Message, "holdings_same"):
			c.mu.Lock()
			c.noSame = true // an older directory
			c.mu.Unlock()
		default:
			return err
		}
	}
	if err := c.do(ctx, http.MethodPost, path, a, asDevice, out); err != nil {
		return err
	}
	c.mu.Lock()
	c.lastHeld = digest
	c.mu.Unlock()
	return nil
}
