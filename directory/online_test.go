package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOnlineIndex drives the index through announce, re-announce,
// withdraw, expiry and sweep, checking every bucket stays consistent.
func TestOnlineIndex(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	c1, c2 := sealed.ContentID{1}, sealed.ContentID{2}
	ix := newOnlineIndex()
	ix.loaded = true
	asker := &Device{ID: "ASKER", Account: "bob"}
	ann := func(dev identity.ID, exp time.Time, cs ...sealed.ContentID) *AnnounceRecord {
		a := &AnnounceRecord{Device: dev, PublicIP: "203.0.113.1", Expires: exp}
		for _, c := range cs {
			a.Holdings = append(a.Holdings, Holding{Content: c, Complete: true})
		}
		return a
	}
	ids := func(c sealed.ContentID, at time.Time) string {
		var s []identity.ID
		for _, sp := range ix.suppliers(nil, c, at, asker, "198.51.100.1", nil, 50, 1) {
			s = append(s, sp.Device)
		}
		slices.Sort(s) // who, not in which (random) order
		return fmt.Sprint(s)
	}
	later := now.Add(time.Minute)
	for i := 0; i < 5; i++ {
		ix.announce(ann(identity.ID(fmt.Sprintf("D%d", i)), later, c1, c2), "alice")
	}
	steps := []struct {
		name   string
		do     func()
		at     time.Time
		c1, c2 string
	}{
		// five holders of both contents, ordered by device ID
		{"announced", func() {}, now, "[D0 D1 D2 D3 D4]", "[D0 D1 D2 D3 D4]"},
		// D1 now holds only c2: it leaves c1's bucket (swap-remove)
		{"re-announce", func() { ix.announce(ann("D1", later, c2), "alice") }, now, "[D0 D2 D3 D4]", "[D0 D1 D2 D3 D4]"},
		// a withdrawn device disappears from every bucket
		{"withdraw", func() { ix.remove("D0") }, now, "[D2 D3 D4]", "[D1 D2 D3 D4]"},
		// D4 announces with a short expiry: listed before, skipped after
		{"short", func() { ix.announce(ann("D4", now.Add(time.Second), c1), "alice") }, now, "[D2 D3 D4]", "[D1 D2 D3]"},
		{"expired", func() {}, now.Add(2 * time.Second), "[D2 D3]", "[D1 D2 D3]"},
		// sweeping drops only the expired device
		{"sweep", func() {
			if n := ix.sweep(now.Add(2 * time.Second)); n != 1 {
				t.Errorf("sweep dropped %d devices, want 1", n)
			}
		}, now, "[D2 D3]", "[D1 D2 D3]"},
		// the asker never lists itself
		{"asker", func() { ix.announce(ann("ASKER", later, c1), "bob") }, now, "[D2 D3]", "[D1 D2 D3]"},
	}
	for _, st := range steps {
		st.do()
		if got := ids(c1, st.at); got != st.c1 {
			t.Errorf("%s: c1 suppliers %s, want %s", st.name, got, st.c1)
		}
		if got := ids(c2, st.at); got != st.c2 {
			t.Errorf("%s: c2 suppliers %s, want %s", st.name, got, st.c2)
		}
		for c, b := range ix.byContent {
			if len(b.holders) == 0 || b.content != c {
				t.Errorf("%s: bucket %x bad (%d holders)", st.name, c[:2], len(b.holders))
			}
			if ix.buckets[b.ref] != b {
				t.Errorf("%s: bucket %x not at its index", st.name, c[:2])
			}
			for i, h := range b.holders {
				d := ix.devTab[h.dev]
				if d == nil || ix.devs[d.id] != d || d.held[h.k].bucket != b.ref || int(d.held[h.k].pos) != i || ix.pols[h.policy].refs <= 0 {
					t.Errorf("%s: holder %d of %x inconsistent", st.name, i, c[:2])
				}
			}
		}
	}
	ix.remove("D1")
	ix.remove("D2")
	ix.remove("D3")
	ix.remove("ASKER")
	if len(ix.byContent) != 0 || len(ix.devs) != 0 || len(ix.policies) != 0 {
		t.Errorf("after removing everyone: %d buckets, %d devices, %d policies", len(ix.byContent), len(ix.devs), len(ix.policies))
	}
	if len(ix.devFree) != len(ix.devTab) || len(ix.bucketFree) != len(ix.buckets) || len(ix.polFree) != len(ix.pols) {
		t.Errorf("after removing everyone: %d of %d devices, %d of %d buckets, %d of %d policies free", len(ix.devFree), len(ix.devTab),
			len(ix.bucketFree), len(ix.buckets), len(ix.polFree), len(ix.pols))
	}
	for i, d := range ix.devTab {
		if d != nil {
			t.Errorf("device %d still in the table", i)
		}
	}
}

// TestOnlineSlotsPointerFree keeps the index's per-holding records free of
// pointers (the garbage collector then never scans the million of them)
// and a slot one cache line, as onlineIndex's and onlineSlot's comments say.
func TestOnlineSlotsPointerFree(t *testing.T) {
	for _, v := range []any{onlineSlot{}, heldRef{}} {
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			switch k := typ.Field(i).Type.Kind(); k {
			case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16,
				reflect.Uint32, reflect.Uint64, reflect.Float64:
			default:
				t.Errorf("%s.%s is a %s: the index's records must hold no pointer", typ.Name(), typ.Field(i).Name, k)
			}
		}
	}
	if size := unsafe.Sizeof(onlineSlot{}); size != 64 {
		t.Errorf("onlineSlot is %d bytes, want 64 (one cache line)", size)
	}
}

// TestSuppliersJSON checks the hand-written encoder writes exactly what
// encoding/json writes.
func TestSuppliersJSON(t *testing.T) {
	cases := []struct {
		name string
		ss   []Supplier
	}{
		// no suppliers at all
		{"empty", []Supplier{}},
		// a plain holder and the origin (empty account, no RTT)
		{"plain", []Supplier{
			{Device: "ABC", Account: "alice", Addrs: []string{"198.51.100.1:7000", "[2001:db8::1]:7000"}, Complete: true, SameLAN: true, RTT: 20, Load: 3, Score: 1},
			{Device: "DIR", Addrs: []string{}, Origin: true, Complete: true, Score: 0.5},
		}},
		// reach and relay (a directory with a relay)
		{"reach", []Supplier{
			{Device: "A", Addrs: []string{"10.0.0.2:7000"}, Score: 1, Reach: ReachRelayed, Relay: "198.51.100.9:7400"},
			{Device: "B", Addrs: []string{}, Score: 0.5, Reach: ReachDirect},
		}},
		// characters encoding/json escapes, and nil addresses
		{"escapes", []Supplier{{Device: "X", Account: "a<b>&\"c\\ é\u2028", Addrs: nil, Score: 1.0 / 51}}},
		// scores of every list length up to the limit
		{"scores", func() []Supplier {
			var ss []Supplier
			for i := 0; i < MaxSuppliers+1; i++ {
				ss = append(ss, Supplier{Device: "D", Addrs: []string{}, Score: float64(MaxSuppliers+1-i) / float64(MaxSuppliers+1), RTT: int64(i)})
			}
			return ss
		}()},
		// scores that are not a rank's (n-i)/n: formatted, not from the table
		{"other-scores", []Supplier{{Device: "A", Addrs: []string{}, Score: 0.3}, {Device: "B", Addrs: []string{}, Score: 1e-7},
			{Device: "C", Addrs: []string{}, Score: 2.0 / 3}}},
	}
	// every list length's scores, from the table
	for n := 1; n <= MaxSuppliers+1; n++ {
		ss := make([]Supplier, n)
		for i := range ss {
			ss[i] = Supplier{Device: "D", Addrs: []string{"198.51.100.1:7000"}, Score: float64(n-i) / float64(n)}
		}
		cases = append(cases, struct {
			name string
			ss   []Supplier
		}{fmt.Sprintf("ranked-%d", n), ss})
	}
	for _, c := range cases {
		want, err := json.Marshal(suppliersResponse{Suppliers: c.ss})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendSuppliersJSON(nil, c.ss)); got != string(want)+"\n" {
			t.Errorf("%s:\ngot  %s\nwant %s", c.name, got, want)
		}
	}
}

// holdingsStore is a Store whose only working method is OnlineHoldings; it
// stops mid-read until released, so changes can race the load.
type holdingsStore struct {
	Store
	holds   map[sealed.ContentID][]Candidate
	reading chan struct{} // closed when the read has started
	release chan struct{}
}

func (f *holdingsStore) OnlineHoldings(ctx context.Context, now time.Time, fn func(sealed.ContentID, *Candidate) error) error {
	close(f.reading)
	<-f.release
	for c, hs := range f.holds {
		for i := range hs {
			if hs[i].Expires.After(now) {
				if err := fn(c, &hs[i]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// TestOnlineLoadRace checks that announcements and withdrawals made while
// the index loads are applied to what the load read, and that lookups wait
// for the load.
func TestOnlineLoadRace(t *testing.T) {
	now := time.Now()
	c := sealed.ContentID{7}
	exp := now.Add(time.Minute)
	// the load checks what the store hands back: real device IDs
	name := map[identity.ID]string{"NEW": "NEW"}
	ids := map[string]identity.ID{}
	for _, n := range []string{"OLD", "GONE", "STALE"} {
		id, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		ids[n], name[id.ID()] = id.ID(), n
	}
	st := &holdingsStore{reading: make(chan struct{}), release: make(chan struct{}), holds: map[sealed.ContentID][]Candidate{
		c: {{Device: ids["OLD"], Account: "a", Expires: exp}, {Device: ids["GONE"], Account: "a", Expires: exp}, {Device: ids["STALE"], Account: "a", Expires: now.Add(-time.Second)}},
	}}
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{Identity: id, Store: st, OriginDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- s.loadOnline(context.Background()) }()
	<-st.reading
	s.idx.announce(&AnnounceRecord{Device: "NEW", Expires: exp, Announcement: Announcement{Holdings: []Holding{{Content: c}}}}, "b")
	s.idx.remove(ids["GONE"])
	looked := make(chan []Supplier, 1)
	go func() {
		ix, err := s.online(context.Background())
		if err != nil {
			t.Error(err)
		}
		looked <- ix.suppliers(nil, c, now, &Device{ID: "ASKER"}, "", nil, 50, 1)
	}()
	select {
	case <-looked:
		t.Fatal("a lookup did not wait for the load")
	case <-time.After(20 * time.Millisecond):
	}
	close(st.release)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range <-looked {
		got = append(got, name[sp.Device])
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[NEW OLD]" {
		t.Errorf("suppliers after the load = %v, want [NEW OLD]", got)
	}
}

// TestIndexRanksLikeRankSuppliers checks the index's slot ranking gives
// what rankSuppliers gives over the same holders, for every limit.
func TestIndexRanksLikeRankSuppliers(t *testing.T) {
	now := time.Now()
	exp := now.Add(time.Minute)
	c := sealed.ContentID{9}
	asker := &Device{ID: "ASKER", Account: "bob"}
	ann := &AnnounceRecord{Announcement: Announcement{PrivateAddrs: []string{"192.168.1.20"}, RTTs: map[string]int64{"RTT10": 10, "RTT50": 50, "TIE2": 5, "TIE1": 5}}}
	cands := []Candidate{
		{Device: "FAR", PublicIP: "203.0.113.9", PrivateAddrs: []string{"192.168.1.5"}, Complete: true},            // other public IP: not LAN
		{Device: "RTT50", PublicIP: "203.0.113.9", Complete: true},                                                 // known RTT 50
		{Device: "RTT10", PublicIP: "203.0.113.9", Load: 9, Complete: true},                                        // known RTT 10 beats load
		{Device: "TIE2", PublicIP: "203.0.113.9", Load: 1},                                                         // equal RTT and load: ID order
		{Device: "TIE1", PublicIP: "203.0.113.9", Load: 1},                                                         // (shares TIE2's first bytes)
		{Device: "LANBUSY", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.30"}, Load: 7},             // same LAN, busy
		{Device: "LANIDLE", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.0/24"}, Load: 1},           // same LAN (CIDR), idle
		{Device: "SAMEIP", PublicIP: "198.51.100.1", PrivateAddrs: []string{"10.0.0.1"}, Complete: true},           // same public IP, other subnet
		{Device: "ASKER", PublicIP: "198.51.100.1", PrivateAddrs: []string{"192.168.1.20"}},                        // the asker itself
		{Device: "HOUSE", Account: "alice", Policy: Policy{Mode: PolicyHousehold}},                                 // excludes bob
		{Device: "BOBHOUSE", Account: "bob", Policy: Policy{Mode: PolicyHousehold}},                                // bob's own household
		{Device: "DENYBOB", Account: "carol", Policy: Policy{Deny: []string{"bob"}}},                               // denies bob
		{Device: "DENYEVE", Account: "carol", Policy: Policy{Deny: []string{"eve"}}},                               // denies someone else
		{Device: "LISTBOB", Account: "carol", Policy: Policy{Mode: PolicyList, Allow: []string{"asker"}}, Load: 2}, // lists the asker's ID
		{Device: "NOBODY", Account: "carol", Policy: Policy{Mode: PolicyNobody}},                                   // nobody
		{Device: "PARTIAL", PublicIP: "203.0.113.9"},                                                               // partial after complete
		{Device: "UPPER", Account: "Bob", Policy: Policy{Mode: PolicyHousehold}, Load: 3},                          // account case differs: same household
	}
	ix := newOnlineIndex()
	ix.loaded = true
	for _, cd := range cands {
		ix.announce(&AnnounceRecord{Device: cd.Device, PublicIP: cd.PublicIP, Expires: exp, Announcement: Announcement{
			Addrs: cd.Addrs, PrivateAddrs: cd.PrivateAddrs, Load: cd.Load,
			Holdings: []Holding{{Content: c, Complete: cd.Complete, Policy: cd.Policy}}}}, cd.Account)
	}
	for k := 0; k < len(cands)*4; k++ {
		limit, salt := 1+k%len(cands), uint64(k/len(cands))
		want := rankSuppliers(cands, asker, "198.51.100.1", ann, limit, salt)
		got := ix.suppliers(nil, c, now, asker, "198.51.100.1", ann, limit, salt)
		for i := range want {
			if want[i].Addrs == nil {
				want[i].Addrs = []string{}
			}
		}
		for i := range got { // the order of arrival is the index's own (candidates carry no time)
			got[i].Arrival = 0
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("limit %d salt %d:\nindex         %+v\nrankSuppliers %+v", limit, salt, got, want)
		}
	}
}

// TestSameIDASCII checks the allocation-free comparison agrees with the
// normalizing one.
func TestSameIDASCII(t *testing.T) {
	cases := [][2]string{
		{"ABC-DEF", "abcdef"}, // dashes and case ignored
		{"ABCDEF", "ABCDEG"},  // one letter differs
		{"ABC", "ABCD"},       // prefix only
		{"--", ""},            // only dashes
		{"A-B-", "-a-b"},      // dashes anywhere
		{"ÄBC", "äbc"},        // non-ASCII: left to the normalizing path
		{"AB1-2", "ab12"},     // digits
		{"AB[", "ab{"},        // punctuation is not folded
	}
	for _, c := range cases {
		norm := func(v string) string { return strings.ToUpper(strings.ReplaceAll(v, "-", "")) }
		want := norm(c[0]) == norm(c[1])
		if got := sameID(c[0], identity.ID(c[1])); got != want {
			t.Errorf("sameID(%q, %q) = %v, want %v", c[0], c[1], got, want)
		}
	}
}

// TestSuppliersDecodeFast checks the client's fast decoder reads what the
// server writes exactly as encoding/json does, and declines other forms.
func TestSuppliersDecodeFast(t *testing.T) {
	canonical := func(ss []Supplier) string { return string(appendSuppliersJSON(nil, ss)) }
	cases := []struct {
		name string
		in   string
		fast bool // the fast path must take it
	}{
		// the server's own answers
		{"empty", canonical([]Supplier{}), true},
		{"two", canonical([]Supplier{
			{Device: "ABC", Account: "alice", Addrs: []string{"198.51.100.1:7000", "[2001:db8::1]:7000"}, Complete: true, SameLAN: true, RTT: 20, Load: 3, Score: 1},
			{Device: "DIR", Addrs: []string{}, Origin: true, Complete: true, Score: 0.5},
		}), true},
		{"null addrs, small score", canonical([]Supplier{{Device: "X", Score: 1.0 / 51, RTT: -4}}), true},
		{"reach and relay", canonical([]Supplier{{Device: "X", Addrs: []string{}, Score: 1, Reach: ReachRelayed, Relay: "198.51.100.9:7400"}}), true},
		// other forms fall back to encoding/json
		{"escaped", canonical([]Supplier{{Device: "X", Account: "a<b"}}), false},
		{"spaces", `{ "suppliers": [] }`, false},
		{"reordered", `{"suppliers":[{"account":"a","device":"D","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":0,"score":1}]}`, false},
		{"unknown field", `{"suppliers":[],"more":1}`, false},
		{"float load", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":1.5,"score":1}]}`, false},
		{"leading zero", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":01,"score":1}]}`, false},
		{"trailing junk", `{"suppliers":[]}x`, false},
		{"long rtt", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"rtt_ms":123456789012345678,"load":9223372036854775807,"score":1E+0}]}`, true},
		{"rtt over int64", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"rtt_ms":9223372036854775808,"load":0,"score":1}]}`, false},
		{"minus alone", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":-,"score":1}]}`, false},
		{"bare fraction", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":0,"score":1.}]}`, false},
		{"bare exponent", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":0,"score":1e+}]}`, false},
		{"rank scores spelt otherwise", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":0,"score":1.0},` +
			`{"device":"E","account":"","addrs":["a","b"],"origin":false,"complete":false,"same_lan":false,"load":0,"score":0.50}]}`, true},
		{"score out of range", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":0,"score":1e400}]}`, false},
		{"negative zero, exponent", `{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"rtt_ms":-12,"load":-0,"score":-0.5e-3}]}`, true},
		{"truncated", `{"suppliers":[{"device":"D"`, false},
	}
	for _, c := range cases {
		var fast suppliersResponse
		ok := fast.decodeFast([]byte(c.in))
		if ok != c.fast {
			t.Errorf("%s: fast path took it = %v, want %v", c.name, ok, c.fast)
		}
		if !ok {
			continue
		}
		var slow suppliersResponse
		if err := json.Unmarshal([]byte(c.in), &slow); err != nil {
			t.Errorf("%s: encoding/json refuses what the fast path took: %v", c.name, err)
		}
		if fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", slow) {
			t.Errorf("%s:\nfast %#v\njson %#v", c.name, fast, slow)
		}
	}
}

// FuzzSuppliersDecodeFast checks that whatever the fast decoder accepts,
// encoding/json accepts too, with the same result.
func FuzzSuppliersDecodeFast(f *testing.F) {
	f.Add(string(appendSuppliersJSON(nil, []Supplier{{Device: "ABC", Account: "alice", Addrs: []string{"198.51.100.1:7000"}, Complete: true, RTT: 20, Load: 3, Score: 1}})))
	f.Add(`{"suppliers":[]}`)
	f.Add(`{"suppliers":[{"device":"D","account":"","addrs":null,"origin":true,"complete":false,"same_lan":false,"load":-0,"score":1e-7}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var fast suppliersResponse
		if !fast.decodeFast([]byte(in)) {
			return
		}
		var slow suppliersResponse
		if err := json.Unmarshal([]byte(in), &slow); err != nil {
			t.Fatalf("encoding/json refuses %q: %v", in, err)
		}
		if fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", slow) {
			t.Fatalf("%q:\nfast %#v\njson %#v", in, fast, slow)
		}
	})
}

// TestOnlineDevLayout keeps what a lookup's answer reads of a device entry
// in its first two cache lines, and the entry in the 192-byte size class
// (objects on line boundaries), as onlineDev's comment says.
func TestOnlineDevLayout(t *testing.T) {
	var d onlineDev
	if size := unsafe.Sizeof(d); size != 192 {
		t.Errorf("onlineDev is %d bytes, want 192 (pad or trim it)", size)
	}
	if end := unsafe.Offsetof(d.addrBuf) + unsafe.Sizeof(d.addrBuf); end > 128 {
		t.Errorf("the fields an answer reads end at byte %d, past the second cache line", end)
	}
}

// BenchmarkSuppliersDecodeFast decodes a default answer (16 suppliers and
// the origin) as the client does.
func BenchmarkSuppliersDecodeFast(b *testing.B) {
	ss := benchAnswer()
	in := appendSuppliersJSON(nil, ss)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var r suppliersResponse
		if !r.decodeFast(in) || len(r.Suppliers) != len(ss) {
			b.Fatal("not decoded")
		}
	}
}

// TestCrowdOfSeeded: the origin budget's seeded is true only for a
// complete holder the asker may copy from: online, its policy allowing
// the asker, reachable; a partial holder, the asker's own complete
// announcement, an expired or a refusing complete holder do not seed.
func TestCrowdOfSeeded(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	c := sealed.ContentID{9}
	asker := &Device{ID: "ASKER", Account: "bob"}
	ix := newOnlineIndex()
	ix.loaded = true
	add := func(dev identity.ID, account string, complete bool, p Policy, exp time.Time) {
		ix.announce(&AnnounceRecord{Device: dev, PublicIP: "203.0.113.1", Expires: exp, Announcement: Announcement{
			Holdings: []Holding{{Content: c, Complete: complete, Policy: p}}}}, account)
	}
	later := now.Add(time.Minute)
	unreachable := func(dev identity.ID, _ string) bool { return dev == "FAR" }
	check := func(step string, wantOthers, wantSeeded bool, wantCrowd int) {
		t.Helper()
		others, seeded, _, crowd := ix.crowdOf(c, now, asker, unreachable)
		if others != wantOthers || seeded != wantSeeded || crowd != wantCrowd {
			t.Errorf("%s: others %v seeded %v crowd %d, want %v %v %d", step, others, seeded, crowd, wantOthers, wantSeeded, wantCrowd)
		}
	}
	// crowd counts every other unexpired holder, whatever its policy or
	// reachability (the demand on the origin), not the asker.
	add("ASKER", "bob", true, Policy{}, later)
	check("the asker alone", false, false, 0)
	add("PARTIAL", "alice", false, Policy{}, later)
	check("a partial holder", true, false, 1)
	add("GONE", "alice", true, Policy{}, now.Add(-time.Second))
	check("+ an expired complete holder", true, false, 1)
	add("DENIES", "carol", true, Policy{Deny: []string{"bob"}}, later)
	check("+ a complete holder that denies the asker", true, false, 2)
	add("FAR", "alice", true, Policy{}, later)
	check("+ an unreachable complete holder", true, false, 3)
	add("SEED", "alice", true, Policy{}, later)
	check("+ a complete holder the asker may copy from", true, true, 4)
	add("MORE", "alice", false, Policy{}, later)
	check("+ a partial holder after the seed", true, true, 5)
}
