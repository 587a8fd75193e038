package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kith-media/kith/share"
)

// TestStatusLANAddress: a device serving on every interface (the default
// --listen :7143 is such) shows in its status an address another device's
// `neighbours add` takes, not the listening address [::]:PORT, which it
// refuses.
func TestStatusLANAddress(t *testing.T) {
	url := startDirectory(t)
	status := serveDevice(t, url, t.TempDir(), ":0")
	_, out := status("--json", "status")
	var st Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v: %s", err, out)
	}
	if _, err := share.ParseNeighbourAddr(st.LANAddr); err != nil {
		t.Fatalf("status shows LAN address %q (listening on %s): neighbours add refuses it: %v", st.LANAddr, st.Addr, err)
	}
	if _, out := status("status"); !strings.Contains(out, "LAN address") || !strings.Contains(out, st.LANAddr) {
		t.Errorf("status does not print the LAN address %s:\n%s", st.LANAddr, out)
	}
}
