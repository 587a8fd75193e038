package directory_test

import (
	"strings"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// Issue 11 item 3: http:// would send passwords and cards in clear with
// no fingerprint check, and a client without a fingerprint trusted
// whichever key answered first.
func TestSecurityClientHTTPSAndPinnedOnly(t *testing.T) {
	id, _ := identity.Generate()
	fp := string(id.ID())
	for _, u := range []string{"http://127.0.0.1:7443#" + fp, "http://127.0.0.1:7443", "ftp://127.0.0.1#" + fp} {
		if _, _, err := directory.ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) accepted", u)
		}
		if _, err := directory.NewClient(directory.ClientOptions{URL: u, Device: id}); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		}
	}
	_, err := directory.NewClient(directory.ClientOptions{URL: "https://127.0.0.1:7443", Device: id})
	if err == nil || !strings.Contains(err.Error(), "kith-directory fingerprint") {
		t.Errorf("NewClient without a fingerprint: %v, want a refusal saying where to find it", err)
	}
	if _, err := directory.NewClient(directory.ClientOptions{URL: "https://127.0.0.1:7443#" + fp, Device: id}); err != nil {
		t.Errorf("NewClient with https and a fingerprint: %v", err)
	}
}
