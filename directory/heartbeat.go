package directory

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// A heartbeat that repeats a device's announcement unchanged (the same
// addresses, load, RTTs, relay and holdings, from the same public address)
// would rewrite its row only to push its expiry on: a write a device every
// AnnounceInterval however idle the household. The server skips that write
// while the expiry it last wrote for the device is more than AnnounceTTL/2
// away. That is safe for any heartbeat interval below the TTL: a write is
// skipped only within TTL/2 of the last one, so the heartbeat after it
// comes before the row expires. With the product's 30 s heartbeats and
// 90 s TTL an idle device writes every other heartbeat: half the writes,
// and on PostgreSQL half the change feed the other instances read. What a
// skip leaves is exactly what the store holds, so every instance and every
// lookup sees one record; the answer names that stored expiry.
//
// The record compared is the one this instance wrote (written), not the
// asker cache (which also holds records read back from the store, without
// their holdings). It is forgotten when the device withdraws, is revoked
// or leaves, and when the shared store's change feed brings another
// instance's write for the device. A heartbeat within the feed's lag
// (feedPoll) may still be skipped against this instance's record; the row
// left is the other instance's, written as late or later.

// unchangedKey counts, in the requests metric, heartbeats answered without
// a store write (route "announce_unchanged").
var unchangedKey = requestsKey("announce_unchanged", http.StatusOK)

// writtenRow is the announcement this instance last stored for a device.
type writtenRow struct {
	rec    *AnnounceRecord
	digest []byte // HoldingsDigest(rec.Holdings)
}

// unchanged returns the record this instance last stored for id when a,
// announced now from ip, would store the same row but for its expiry, and
// that expiry is more than half a TTL away.
func (s *Server) unchanged(id identity.ID, ip string, a *Announcement, now time.Time) (*AnnounceRecord, bool) {
	w, _, ok := s.written.get(id, now)
	if !ok || w.rec.Expires.Sub(now) <= s.o.AnnounceTTL/2 {
		return nil, false
	}
	b := &w.rec.Announcement
	same := w.rec.PublicIP == ip && a.Load == b.Load && a.Relay == b.Relay && slices.Equal(a.Addrs, b.Addrs) &&
		slices.Equal(a.PrivateAddrs, b.PrivateAddrs) && maps.Equal(a.RTTs, b.RTTs) &&
		bytes.Equal(HoldingsDigest(a.Holdings), w.digest)
	return w.rec, same
}

// stored notes rec as the announcement this instance just wrote.
func (s *Server) stored(rec *AnnounceRecord) {
	s.written.put(rec.Device, writtenRow{rec: rec, digest: HoldingsDigest(rec.Holdings)}, rec.Expires)
}

// changedElsewhere forgets what this instance wrote for a device when the
// store's change feed brings a state of it this instance did not write
// (another instance's announcement, a withdrawal, a revocation).
func (s *Server) changedElsewhere(c *DeviceChange) {
	w, _, ok := s.written.get(c.Device, s.now())
	if !ok {
		return
	}
	if c.Online == nil || c.Online.Expires.UnixMilli() != w.rec.Expires.UnixMilli() {
		s.written.forget(c.Device)
	}
}
