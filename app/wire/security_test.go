package wire

import (
	"context"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// Issue 11 item 3: only https directories, and never one without its
// fingerprint (the client would otherwise trust whoever answers).
func TestSecurityDirectoryFlagHTTPSAndFingerprint(t *testing.T) {
	fp := func() identity.ID { id, _ := identity.Generate(); return id.ID() }()
	for _, c := range []struct{ url, want string }{
		{"http://127.0.0.1:7443#" + string(fp), "https"},
		{"https://127.0.0.1:7443", "kith-directory fingerprint"},
		{"HTTP://127.0.0.1:7443#" + string(fp), "https"},
	} {
		k, err := Start(context.Background(), Config{DataDir: t.TempDir(), Directory: c.url, NoLAN: true,
			Listen: "127.0.0.1:0", Output: newPaceOutput(), Logger: testLogger(t)})
		if err == nil {
			k.Close()
			t.Errorf("--directory %s accepted", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("--directory %s: %v; want it to mention %q", c.url, err, c.want)
		}
	}
}

// Issue 11 item 1: a directory an older Kith saved from the first LAN
// answer (found_on_lan, never paired) is not used: the device pairs again.
func TestSecuritySavedUnpairedDirectoryNotUsed(t *testing.T) {
	dir := t.TempDir()
	id, _ := identity.Generate()
	rogue := Joined{URL: "https://127.0.0.1:1", Fingerprint: id.ID(), Name: "household", FoundOnLAN: true}
	if err := SaveJoined(dir, rogue); err != nil {
		t.Fatal(err)
	}
	k, stop := startKith(t, context.Background(), dir)
	defer stop()
	if k.Joined.Fingerprint == rogue.Fingerprint || k.Backend.Session.Directory().Fingerprint == rogue.Fingerprint {
		t.Fatalf("started with the unpaired directory %+v", k.Joined)
	}
}
