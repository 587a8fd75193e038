package pairing

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"7KQ2M-XD4HP", "7kq2m xd4hp", "ILOOO-11111", "", "-----", "ÄBCDE-FGHJK", "0123456789A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		if len(c) != CodeLen+1 || c[CodeLen/2] != '-' {
			t.Fatalf("ParseCode(%q) = %q: not canonical", s, c)
		}
		again, err := ParseCode(string(c))
		if err != nil || again != c {
			t.Fatalf("canonical %q does not parse to itself: %q, %v", c, again, err)
		}
	})
}

func FuzzDecodeMessages(f *testing.F) {
	seed := func(v any) { b, _ := json.Marshal(v); f.Add(b) }
	seed(StartRequest{Device: "AAAAAAA-AAAAAAA", Nonce: make([]byte, NonceSize)})
	seed(StartAnswer{Session: make([]byte, SessionSize), Nonce: make([]byte, NonceSize)})
	seed(FinishRequest{Session: make([]byte, SessionSize), Proof: make([]byte, KeySize)})
	seed(FinishAnswer{Proof: make([]byte, KeySize)})
	f.Add([]byte(`{"v":1,"id":"AAAAAAAAAAAAAAAAAAAAAA==","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","expires":1800000000}`))
	f.Add([]byte(`{"nonce":null}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeStart(b); err == nil && (len(r.Nonce) != NonceSize || !r.Device.Valid()) {
			t.Fatalf("DecodeStart accepted %q", b)
		}
		if a, err := DecodeStartAnswer(b); err == nil && (len(a.Session) != SessionSize || len(a.Nonce) != NonceSize) {
			t.Fatalf("DecodeStartAnswer accepted %q", b)
		}
		if r, err := DecodeFinish(b); err == nil && (len(r.Session) != SessionSize || len(r.Proof) != KeySize) {
			t.Fatalf("DecodeFinish accepted %q", b)
		}
		if a, err := DecodeFinishAnswer(b); err == nil && len(a.Proof) != KeySize {
			t.Fatalf("DecodeFinishAnswer accepted %q", b)
		}
		if c, err := ParseCodeFile(b); err == nil && (len(c.ID) != 16 || len(c.Key) != KeySize || c.Expires.Unix() <= 0) {
			t.Fatalf("ParseCodeFile accepted %q", b)
		}
	})
}

// FuzzAddressURL: an address typed on the welcome screen becomes an https
// URL of host:port only, or an error.
func FuzzAddressURL(f *testing.F) {
	for _, s := range []string{"192.168.1.20:7443", "https://kith.local:7443", "[fe80::1%eth0]:7443", "[::1]:1",
		"host:port/path", "user@host:1", "host:1#frag", " 10.0.0.1:7443 ", "a:b:c", ":7443", "host:", "a%25b:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := AddressURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, "#?@%\x00\n\r\t ") {
			t.Fatalf("AddressURL(%q) = %q", s, u)
		}
		if again, err := CheckURL(u); err != nil || again != u {
			t.Fatalf("AddressURL(%q) = %q, which CheckURL gives as %q, %v", s, u, again, err)
		}
	})
}
