package wire

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// Settings → Devices over the real household directory (TLS, SQLite):
// the app lists both of the account's devices, this one marked; it removes
// the other, which the directory then refuses, and the list no longer
// shows it; it will not remove itself (that is Sign out). Signed out, it
// lists nothing.
func TestDevicesListAndRemove(t *testing.T) {
	ctx := context.Background()
	k, stop := startKith(t, ctx, t.TempDir())
	defer stop()
	s := k.Backend.Session
	if _, err := s.Devices(ctx); err == nil {
		t.Fatal("devices listed before signing in")
	}
	if err := s.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	attic, err := directory.NewClient(directory.ClientOptions{URL: k.Joined.String(), Device: dev, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := attic.EnrollDevice(ctx, "household", "correct horse battery", "attic"); err != nil {
		t.Fatal(err)
	}

	ds, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Name != "test-host" || !ds[0].This || ds[1].Name != "attic" || ds[1].This ||
		ds[1].ID != dev.ID() || ds[1].Added.IsZero() {
		t.Fatalf("devices: %+v; want test-host (this) then attic", ds)
	}
	if err := s.RemoveDevice(ctx, ds[0].ID); err == nil || !strings.Contains(err.Error(), "Sign out") {
		t.Fatalf("removing this device: %v; want refused, pointing to Sign out", err)
	}
	if err := s.RemoveDevice(ctx, dev.ID()); err != nil {
		t.Fatalf("removing attic: %v", err)
	}
	if _, err := attic.Devices(ctx); !errors.Is(err, &directory.Error{Code: directory.CodeForbidden}) &&
		!errors.Is(err, &directory.Error{Code: directory.CodeUnauthorized}) {
		t.Errorf("the removed device still talks to the directory: %v", err)
	}
	ds, err = s.Devices(ctx)
	if err != nil || len(ds) != 1 || !ds[0].This {
		t.Fatalf("devices after removing attic: %+v, %v; want this one only", ds, err)
	}
	if err := s.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Devices(ctx); err == nil {
		t.Error("devices listed after signing out")
	}
}
