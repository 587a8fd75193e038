package sqlitestore

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOnlineHoldings checks the chunked walk returns exactly what
// SupplierCandidates returns per content, whatever the chunk size, and
// skips withdrawn and expired holders.
func TestOnlineHoldings(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	now := time.Now()
	contents := make([]sealed.ContentID, 4)
	for i := range contents {
		_, _ = rand.Read(contents[i][:])
	}
	var devs []directory.Device
	var anns []directory.AnnounceRecord
	for i := 0; i < 12; i++ {
		id, _ := identity.Generate()
		devs = append(devs, directory.Device{ID: id.ID(), Name: "d", Account: "acct", Keys: id.Public(), Created: now})
		exp := now.Add(time.Hour)
		if i == 11 {
			exp = now.Add(-time.Second) // expired
		}
		a := directory.AnnounceRecord{Device: id.ID(), PublicIP: "192.0.2.1", Expires: exp,
			Announcement: directory.Announcement{Addrs: []string{fmt.Sprintf("192.0.2.%d:7000", i)}, PrivateAddrs: []string{"10.0.0.1"}, Load: i}}
		for j, c := range contents {
			if (i+j)%3 != 0 {
				a.Holdings = append(a.Holdings, directory.Holding{Content: c, Complete: j%2 == 0,
					Policy: directory.Policy{Mode: directory.PolicyList, Allow: []string{"bob"}, Deny: []string{"eve", "mallory"}}})
			}
		}
		anns = append(anns, a)
	}
	if err := s.BulkLoad(ctx, "hash", []string{"acct"}, devs, anns); err != nil {
		t.Fatal(err)
	}
	if err := s.Withdraw(ctx, devs[0].ID); err != nil {
		t.Fatal(err)
	}
	key := func(c sealed.ContentID, h *directory.Candidate) string {
		return fmt.Sprintf("%x %s %s %s %v %v %d %v %+v %d", c[:4], h.Device, h.Account, h.PublicIP, h.Addrs, h.PrivateAddrs, h.Load, h.Complete, h.Policy, h.Expires.UnixMilli())
	}
	var want []string
	for _, c := range contents {
		cs, err := s.SupplierCandidates(ctx, c, now, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cs {
			cs[i].Expires = anns[0].Expires // every listed holder announced with this expiry
			want = append(want, key(c, &cs[i]))
		}
	}
	sort.Strings(want)
	defer func(n int) { onlineChunk = n }(onlineChunk)
	for _, chunk := range []int{1, 2, 5, 4096} {
		onlineChunk = chunk
		var got []string
		err := s.OnlineHoldings(ctx, now, func(c sealed.ContentID, h *directory.Candidate) error {
			got = append(got, key(c, h))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("chunk %d: got %d holdings\n%v\nwant %d\n%v", chunk, len(got), got, len(want), want)
		}
	}
	if len(want) == 0 {
		t.Fatal("no holdings listed at all")
	}
}
