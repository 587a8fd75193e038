package directory

import (
	"encoding/json"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Announcement
		if decodeStrict(b, &a) != nil || validateAnnouncement(&a) != nil {
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var a2 Announcement
		if err := decodeStrict(out, &a2); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if err := validateAnnouncement(&a2); err != nil {
			t.Fatalf("re-validating %s: %v", out, err)
		}
	})
}

const hex64 = "0000000000000000000000000000000000000000000000000000000000000001"
