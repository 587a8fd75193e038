package tlswire

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"

	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/share/identity"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRelayReadsRecords: a device's TLS server writes 256 KiB at once in
// full-size records (no dynamic record sizing), and a client reads them
// through the relay: the relay kept both ways, and Records counts 16
// full-size records.
func TestRelayReadsRecords(t *testing.T) {
	srvID, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cliID, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	scfg := srvID.ServerTLS(nil)
	scfg.DynamicRecordSizingDisabled = true
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	body := bytes.Repeat([]byte("k"), 256<<10)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = c.Write(body)
			c.Close()
		}
		done <- err
	}()
	r := StartRelay(t, ln.Addr().String())
	c, err := tls.Dial("tcp", r.Addr(), cliID.ClientTLS(srvID.ID()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes through the relay: %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(r.Up()) == 0 || len(r.Down()) < len(body) {
		t.Fatalf("relay kept %d bytes up, %d down", len(r.Up()), len(r.Down()))
	}
	if mid, full := Records(r.Down()); full != 16 || mid != 0 {
		t.Errorf("%d full-size records and %d of 1-16 KiB for 256 KiB written at once, want 16 and 0", full, mid)
	}
	if mid, full := Records([]byte{23, 3, 3, 0x40}); mid != 0 || full != 0 {
		t.Errorf("a cut header counted: %d, %d", mid, full)
	}
}
