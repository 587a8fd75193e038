package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/sealed"
)

// FuzzAnnounceStore: any announcement the directory accepts is stored in
// real columns and read back unchanged (by OnlineHoldings, Holding and
// Announcement), whatever bytes its strings hold: no string can break
// the rows or pose as another field.
func FuzzAnnounceStore(f *testing.F) {
	f.Add([]byte(`{"addrs":["10.0.0.1:7000","h.example:9"],"holdings":[{"content":"` + fmt.Sprintf("%064x", 1) + `","complete":true,"policy":{"mode":"list","allow":["bob","x\"y"],"deny":["é,;[]"]}}],"load":1,"private_addrs":["10.0.0.1","fd00::/64"]}`))
	f.Add([]byte(`{"addrs":[],"holdings":[{"content":"` + fmt.Sprintf("%064x", 2) + `","policy":{"mode":"household"}}],"load":0}`))
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(f.TempDir(), "d.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.CreateAccount(ctx, "alice", "h", time.Now()); err != nil {
		f.Fatal(err)
	}
	d := newDeviceF(f, s, "alice")
	f.Fuzz(func(t *testing.T, b []byte) {
		var a directory.Announcement
		if json.Unmarshal(b, &a) != nil || directory.ValidateAnnouncement(&a) != nil || len(a.Holdings) > 64 {
			return
		}
		now := time.Now()
		rec := &directory.AnnounceRecord{Device: d.ID, PublicIP: "192.0.2.1", Announcement: a, Expires: now.Add(time.Hour)}
		if err := s.Announce(ctx, rec); err != nil {
			t.Fatalf("storing a valid announcement: %v", err)
		}
		got := map[sealed.ContentID]directory.Candidate{}
		if err := s.OnlineHoldings(ctx, now, func(c sealed.ContentID, h *directory.Candidate) error {
			got[c] = *h
			return nil
		}); err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if len(got) != len(a.Holdings) {
			t.Fatalf("%d holdings read back, %d announced", len(got), len(a.Holdings))
		}
		same := func(x, y []string) bool { return len(x) == len(y) && (len(x) == 0 || slices.Equal(x, y)) }
		for _, h := range a.Holdings {
			c, ok := got[h.Content]
			if !ok || c.Device != d.ID || c.Account != "alice" || c.Complete != h.Complete || c.Load != a.Load ||
				!same(c.Addrs, a.Addrs) || !same(c.PrivateAddrs, a.PrivateAddrs) || c.Policy.Mode != h.Policy.Mode ||
				!same(c.Policy.Allow, h.Policy.Allow) || !same(c.Policy.Deny, h.Policy.Deny) {
				t.Fatalf("holding %x read back as %+v, announced %+v", h.Content[:4], c, h)
			}
			hh, err := s.Holding(ctx, d.ID, h.Content)
			if err != nil || hh.Complete != h.Complete || hh.Policy.Mode != h.Policy.Mode || !same(hh.Policy.Allow, h.Policy.Allow) || !same(hh.Policy.Deny, h.Policy.Deny) {
				t.Fatalf("Holding %x = %+v, %v", h.Content[:4], hh, err)
			}
		}
		an, err := s.Announcement(ctx, d.ID)
		if err != nil || !same(an.Addrs, a.Addrs) || !same(an.PrivateAddrs, a.PrivateAddrs) || len(an.RTTs) != len(a.RTTs) {
			t.Fatalf("Announcement = %+v, %v", an, err)
		}
	})
}
