package wire

import (
	"strings"
	"testing"

	"github.com/kith-media/kith/directory/pairing"
)

// FuzzHostURL: an address typed on the welcome screen becomes an https
// URL of host:port only, or an error.
func FuzzHostURL(f *testing.F) {
	for _, s := range []string{"192.168.1.20:7443", "https://kith.local:7443", "[fe80::1%eth0]:7443", "[::1]:1",
		"host:port/path", "user@host:1", "host:1#frag", " 10.0.0.1:7443 ", "a:b:c", ":7443", "host:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := hostURL(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, "#?@%\x00\n\r\t ") {
			t.Fatalf("hostURL(%q) = %q", s, u)
		}
		if again, err := pairing.CheckURL(u); err != nil || again != u {
			t.Fatalf("hostURL(%q) = %q, which CheckURL gives as %q, %v", s, u, again, err)
		}
	})
}
