package directory

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

func TestPolicyAllows(t *testing.T) {
	const peer = identity.ID("AAAAAAA-BBBBBBB-CCCCCCC")
	cases := []struct {
		name        string
		p           Policy
		owner       string
		peerAccount string
		want        bool
	}{
		{"zero policy means anyone", Policy{}, "alice", "bob", true},
		{"anyone", Policy{Mode: PolicyAnyone}, "alice", "bob", true},
		{"anyone, unknown peer account", Policy{Mode: PolicyAnyone}, "alice", "", true},
		{"household, same account", Policy{Mode: PolicyHousehold}, "alice", "alice", true},
		{"household, case-insensitive", Policy{Mode: PolicyHousehold}, "alice", "ALICE", true},
		{"household, other account", Policy{Mode: PolicyHousehold}, "alice", "bob", false},
		{"household, unknown peer account", Policy{Mode: PolicyHousehold}, "alice", "", false},
		{"household, unknown owner", Policy{Mode: PolicyHousehold}, "", "", false},
		{"list by account", Policy{Mode: PolicyList, Allow: []string{"bob"}}, "alice", "bob", true},
		{"list by device id", Policy{Mode: PolicyList, Allow: []string{string(peer)}}, "alice", "carol", true},
		{"list by device id without dashes, lowercase", Policy{Mode: PolicyList, Allow: []string{"aaaaaaabbbbbbbccccccc"}}, "alice", "carol", true},
		{"list includes the owner's household", Policy{Mode: PolicyList}, "alice", "alice", true},
		{"list, not listed", Policy{Mode: PolicyList, Allow: []string{"dave"}}, "alice", "bob", false},
		{"nobody", Policy{Mode: PolicyNobody}, "alice", "alice", false},
		{"deny wins over anyone", Policy{Mode: PolicyAnyone, Deny: []string{"bob"}}, "alice", "bob", false},
		{"deny by device wins over list", Policy{Mode: PolicyList, Allow: []string{"bob"}, Deny: []string{string(peer)}}, "alice", "bob", false},
		{"deny wins over household", Policy{Mode: PolicyHousehold, Deny: []string{string(peer)}}, "alice", "alice", false},
		{"unknown mode allows no one", Policy{Mode: "friends"}, "alice", "alice", false},
	}
	for _, c := range cases {
		if got := c.p.Allows(c.owner, peer, c.peerAccount); got != c.want {
			t.Errorf("%s: Allows(%q, peer, %q) = %v, want %v", c.name, c.owner, c.peerAccount, got, c.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	many := make([]string, MaxPolicyEntries+1)
	for i := range many {
		many[i] = "x"
	}
	cases := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"zero", Policy{}, true},
		{"list", Policy{Mode: PolicyList, Allow: []string{"bob"}}, true},
		{"unknown mode", Policy{Mode: "all"}, false},
		{"too many", Policy{Mode: PolicyList, Allow: many}, false},
		{"empty entry", Policy{Deny: []string{""}}, false},
		{"control character", Policy{Deny: []string{"bo\x1fb"}}, false},
	}
	for _, c := range cases {
		if err := c.p.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestRankSuppliers(t *testing.T) {
	asker := &Device{ID: "ASKER", Account: "bob"}
	ann := &AnnounceRecord{Announcement: Announcement{PrivateAddrs: []string{"192.168.1.20"}, RTTs: map[string]int64{"RTT10": 10, "RTT50": 50}}}
	cands := []Candidate{
		{Device: "FAR", PublicIP: "203.0.113.9", PrivateAddrs: []string{"192.168.1.5"}, Load: 0, Complete: true},  // other public IP: not LAN
		{Device: "RTT50", PublicIP: "203.0.113.9", Load: 0, Complete: true},                                       // known RTT 50
		{Device: "RTT10", PublicIP: "203.0.113.9", Load: 9, Complete: true},                                       // known RTT 10 beats load
		{Device: "LANBUSY", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.30"}, Load: 7},            // same LAN, busy
		{Device: "LANIDLE", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.0/24"}, Load: 1},          // same LAN (CIDR), idle
		{Device: "SAMEIP", PublicIP: "198.51.100.1", PrivateAddrs: []string{"10.0.0.1"}, Load: 0, Complete: true}, // same public IP, other subnet
		{Device: "ASKER", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.20"}},                       // the asker itself
		{Device: "HOUSE", Account: "alice", Policy: Policy{Mode: PolicyHousehold}},                                // excludes bob
		{Device: "PARTIAL", PublicIP: "203.0.113.9", Load: 0},                                                     // partial after complete
	}
	got := rankSuppliers(cands, asker, "198.51.100.1", ann, 50, 7)
	// Same LAN first, then known RTT lowest first, then the rest in a
	// weighted random order (checked in TestSupplierSampling).
	want := []identity.ID{"LANIDLE|LANBUSY", "LANIDLE|LANBUSY", "RTT10", "RTT50", "FAR|SAMEIP|PARTIAL", "FAR|SAMEIP|PARTIAL", "FAR|SAMEIP|PARTIAL"}
	if len(got) != len(want) {
		t.Fatalf("got %d suppliers %v, want %v", len(got), got, want)
	}
	seen := map[identity.ID]bool{}
	for i := range want {
		if !slices.Contains(strings.Split(string(want[i]), "|"), string(got[i].Device)) || seen[got[i].Device] {
			t.Errorf("rank %d = %s, want one of %s (all: %+v)", i, got[i].Device, want[i], got)
		}
		seen[got[i].Device] = true
	}
	if !got[0].SameLAN || !got[1].SameLAN || got[4].SameLAN {
		t.Errorf("same-LAN flags wrong: %+v", got)
	}
	if n := len(rankSuppliers(cands, asker, "198.51.100.1", ann, 2, 7)); n != 2 {
		t.Errorf("limit 2 gave %d", n)
	}
}

// TestSupplierSampling: a crowd bigger than the limit is sampled, not
// cut: askers get different subsets that together cover the crowd, and a
// holder's chance follows its weight (complete twice partial; idle before
// busy).
func TestSupplierSampling(t *testing.T) {
	var cands []Candidate
	for i := range 200 {
		c := Candidate{Device: identity.ID(fmt.Sprintf("H%03d", i)), PublicIP: "203.0.113.9"}
		switch {
		case i < 50:
			c.Complete = true // weight 2
		case i >= 150:
			c.Load = 3 // weight 1/4
		}
		cands = append(cands, c)
	}
	picked := map[identity.ID]int{}
	var first []identity.ID
	const askers = 400
	for a := range askers {
		asker := &Device{ID: identity.ID(fmt.Sprintf("ASKER%03d", a))}
		got := rankSuppliers(cands, asker, "198.51.100.1", nil, MaxSuppliers, uint64(a))
		if len(got) != MaxSuppliers {
			t.Fatalf("got %d suppliers, want %d", len(got), MaxSuppliers)
		}
		first = append(first, got[0].Device)
		for _, s := range got {
			picked[s.Device]++
		}
	}
	if len(picked) != len(cands) {
		t.Errorf("%d of %d holders ever answered: the crowd is cut, not sampled", len(picked), len(cands))
	}
	if len(slices.Compact(slices.Sorted(slices.Values(first)))) < 50 {
		t.Errorf("the top supplier is the same for most askers: %v", first[:20])
	}
	sum := func(lo, hi int) (n int) {
		for i := lo; i < hi; i++ {
			n += picked[cands[i].Device]
		}
		return n
	}
	complete, partial, busy := sum(0, 50), sum(50, 150)/2, sum(150, 200)
	if !(complete > partial*3/2 && partial > busy*2) {
		t.Errorf("answers per 50 holders: complete %d, partial idle %d, partial busy %d: want complete > partial > busy by their weights", complete, partial, busy)
	}
}

func TestSharePrivateSubnet(t *testing.T) {
	cases := []struct {
		a, b []string
		want bool
	}{
		{[]string{"192.168.1.20"}, []string{"192.168.1.99"}, true},  // same /24
		{[]string{"192.168.1.20"}, []string{"192.168.2.99"}, false}, // other /24
		{[]string{"10.0.0.0/8"}, []string{"10.200.1.1"}, true},      // announced CIDR
		{[]string{"8.8.8.8"}, []string{"8.8.8.9"}, false},           // public addresses never count
		{[]string{"fd00::1"}, []string{"fd00::2"}, true},            // ULA /64
		{[]string{"fe80::1"}, []string{"fe80::2"}, true},            // link-local
		{nil, []string{"192.168.1.1"}, false},                       // asker told nothing
		{[]string{"junk"}, []string{"192.168.1.1"}, false},          // unparsable ignored
	}
	for _, c := range cases {
		if got := sharePrivateSubnet(c.a, c.b); got != c.want {
			t.Errorf("sharePrivateSubnet(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
