package directory_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// TestEmbeddedHousehold runs a directory in-process, the way the desktop
// app embeds a household directory with a demo catalog: store, identity,
// Publish, NewServer, Serve on a listener, and a client buying the free
// demo title.
func TestEmbeddedHousehold(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "directory.key"))
	if err != nil {
		t.Fatal(err)
	}
	origin := filepath.Join(dir, "origin")
	demo, err := directory.Publish(ctx, st, id, origin, bytes.NewReader(bytes.Repeat([]byte("la"), 50_000)),
		directory.PublishOptions{Name: "Demo Tune", Artist: "Kith", MediaType: "audio/wav", Rights: license.Rights{Reshare: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: origin, Name: "Household"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	url := directory.FormatURL("https://"+ln.Addr().String(), srv.ID())

	dev, _ := identity.Generate()
	c, err := directory.NewClient(directory.ClientOptions{URL: url, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateAccount(ctx, "home", "household-password"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, "home", "household-password", "living room"); err != nil {
		t.Fatal(err)
	}
	in, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := license.SealRegistration(license.Registration{TitleID: demo.ID, Account: "home"}, dev, in.Keys.Box)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register(ctx, sr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := license.Open(reg.License, dev, in.Keys.Sign, demo.ContentID, time.Now()); err != nil {
		t.Fatalf("license: %v", err)
	}
	// a client pinned to another fingerprint refuses the directory
	other, _ := identity.Generate()
	bad, _ := directory.NewClient(directory.ClientOptions{URL: "https://" + ln.Addr().String(), Fingerprint: other.ID()})
	if _, err := bad.Info(ctx); err == nil {
		t.Error("client accepted a directory with another fingerprint")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
