package directory

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseURL: any string either fails or yields a base that parses again
// to itself.
func FuzzParseURL(f *testing.F) {
	f.Add("https://dir.example:8443#AAAAAAA")
	f.Add("https://[::1]:8443/")
	f.Fuzz(func(t *testing.T, s string) {
		base, fp, err := ParseURL(s)
		if err != nil {
			return
		}
		b2, fp2, err := ParseURL(FormatURL(base, fp))
		if err != nil || b2 != base || fp2 != fp {
			t.Fatalf("%q → %q %q → %q %q %v", s, base, fp, b2, fp2, err)
		}
	})
}

// FuzzAnnouncement: the announce body decoder and validator never panic,
// and what they accept survives a JSON round trip unchanged in validity.
func FuzzAnnouncement(f *testing.F) {
	f.Add([]byte(`{"addrs":["10.0.0.1:7000"],"holdings":[{"content":"` + hex64 + `","complete":true,"policy":{"mode":"list","allow":["bob"]}}],"load":1,"private_addrs":["10.0.0.1"],"rtts":{"AAAAAAA":5}}`))
	f.Add([]byte(`{"addrs":[],"holdings":[],"load":0}`))
	f.Add([]byte(`{"addrs":["[fe80::1%eth0]:7000","h.example:1"],"private_addrs":["fe80::1%z\u001f\u001e","fd00::/64"],"holdings":[],"load":0}`))
	f.Add([]byte(`{"addrs":["10.0.0.1:7000"],"holdings":null,"load":0,"holdings_same":"uZFKA8KXsspk9EYPSv/3IWMjj0HSGWUCEanGXgifUGY="}`))
	f.Add([]byte(`{"addrs":[],"load":0,"holdings_same":""}`))
	f.Add([]byte(`{"addrs":[],"load":0,"holdings_same":"uZFKA8KXsspk9EYPSv/3IWMjj0HSGWUCEanGXgifUG=="}`))
	f.Add([]byte(`{"addrs":[],"holdings":[{"content":"` + hex64 + `","complete":true,"policy":{"mode":"anyone"}}],"load":0,"holdings_same":"uZFKA8KXsspk9EYPSv/3IWMjj0HSGWUCEanGXgifUGY="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Announcement
		if decodeStrict(b, &a) != nil || ValidateAnnouncement(&a) != nil {
			return
		}
		// holdings named by digest: a SHA-256's length, and nothing beside
		if a.HoldingsSame != nil && (len(a.HoldingsSame) != 32 || len(a.Holdings) > 0) {
			t.Fatalf("accepted holdings_same of %d bytes beside %d holdings", len(a.HoldingsSame), len(a.Holdings))
		}
		// what passes holds no zone, separator or control byte, and no
		// string longer than its limit (they reach the store and the index)
		for _, s := range append(append([]string(nil), a.Addrs...), a.PrivateAddrs...) {
			if strings.ContainsAny(s, "%") || hasControl(s) || len(s) > MaxAddrLen {
				t.Fatalf("accepted address %q", s)
			}
		}
		for _, s := range a.PrivateAddrs {
			if len(s) > MaxPrivateAddrLen {
				t.Fatalf("accepted private address %q", s)
			}
		}
		for _, h := range a.Holdings {
			for _, s := range append(append([]string{h.Policy.Mode}, h.Policy.Allow...), h.Policy.Deny...) {
				if hasControl(s) || len(s) > 128 {
					t.Fatalf("accepted policy string %q", s)
				}
			}
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var a2 Announcement
		if err := decodeStrict(out, &a2); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if err := ValidateAnnouncement(&a2); err != nil {
			t.Fatalf("re-validating %s: %v", out, err)
		}
	})
}

const hex64 = "0000000000000000000000000000000000000000000000000000000000000001"

// FuzzCountListItems: countListItems never panics, never counts past
// max+1, and agrees with encoding/json on well-formed lists.
func FuzzCountListItems(f *testing.F) {
	f.Add([]byte(`{"suppliers":[{},{}]}`), 5)
	f.Add([]byte(`{"x":[1,2],"suppliers":null}`), 1)
	f.Add([]byte(`{"suppliers":[[[]]],"suppliers":[1]}`), 3)
	f.Add([]byte(`{"Suppliers":[1,2,3]}`), 1)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1000 {
			t.Skip()
		}
		n, err := countListItems(b, "suppliers", max)
		if err != nil {
			return
		}
		if n > max+1 {
			t.Fatalf("counted %d with max %d", n, max)
		}
		var v struct {
			Suppliers []json.RawMessage `json:"suppliers"`
		}
		// Never fewer than encoding/json decodes (it matches keys case-insensitively and
		// keeps the last of duplicates; the count adds them all up).
		if json.Unmarshal(b, &v) == nil && n <= max && len(v.Suppliers) > n {
			t.Fatalf("counted %d, encoding/json decodes %d", n, len(v.Suppliers))
		}
	})
}
