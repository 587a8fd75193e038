package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/syncbuf"
	"github.com/kith-media/kith/share"
)

// TestStatusLANAddress: a device serving on every interface (the default
// --listen :7143 is such) shows in its status an address another device's
// `neighbours add` takes, not the listening address [::]:PORT, which it
// refuses.
func TestStatusLANAddress(t *testing.T) {
	url := startDirectory(t)
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr syncbuf.Buffer
	served := make(chan int, 1)
	go func() {
		served <- run(ctx, []string{"--data", data, "--directory", url, "serve", "--listen", ":0", "--lan=false"}, &serveErr, &serveErr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	})
	status := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"--data", data}, args...), &out, &out)
		return code, out.String()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := status("status"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device did not answer: %s", serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
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
