package directory_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/share/identity"
)

// TestDeviceLimit: a directory (real TLS, real SQLite) with MaxDevices 2
// refuses an account's third device with a message the user can act on,
// and enrols it once one of the two is removed; the same key enrolling
// again (a rename) is never refused. Without the cap the third device was
// enrolled, and any number after it.
func TestDeviceLimit(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{MaxDevices: 2, RateAuth: -1, RateIP: -1, RateDevice: -1})
	first, firstDev := d.Enrolled(ctx, t, "hana", "phone")
	d.Enrolled(ctx, t, "hana", "laptop")
	third, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := d.Client(t, third)
	err = c.EnrollDevice(ctx, "hana", "hana-password", "tablet")
	var de *directory.Error
	if !errors.As(err, &de) || de.Status != http.StatusForbidden || de.Code != directory.CodeDeviceLimit ||
		de.Message != "this account already has 2 devices; remove one in Settings" {
		t.Fatalf("a third device over a cap of 2: %v, want 403 device_limit \"this account already has 2 devices; remove one in Settings\"", err)
	}
	if err := first.EnrollDevice(ctx, "hana", "hana-password", "phone, renamed"); err != nil {
		t.Errorf("a device of a full account enrolling again (rename): %v", err)
	}
	if err := first.RevokeDevice(ctx, firstDev.ID()); err != nil {
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, "hana", "hana-password", "tablet"); err != nil {
		t.Errorf("after one was removed: %v, want the third enrolled", err)
	}
	// Another account is not affected.
	d.Enrolled(ctx, t, "ivo", "phone")
}

// TestRevokedDevicesNotListed: a household that adds and removes devices
// (a phone replaced each year, a test laptop) gets only its devices from
// GET /v1/devices (real TLS, real SQLite), however many it removed. The
// directory listed every revoked device for good, so the answer grew by
// one per add-and-remove — past the client's 16 MiB bound, Settings →
// Devices would fail to open — and this test saw 21 devices.
func TestRevokedDevicesNotListed(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{MaxDevices: 2, RateAuth: -1, RateIP: -1, RateDevice: -1})
	home, homeDev := d.Enrolled(ctx, t, "hana", "home")
	for range 20 {
		c, dev := d.Enrolled(ctx, t, "hana", "phone")
		if err := home.RevokeDevice(ctx, dev.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Devices(ctx); err == nil {
			t.Fatal("a removed device listed its account's devices")
		}
	}
	ds, err := home.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].ID != homeDev.ID() || ds[0].Revoked {
		t.Fatalf("devices after 20 added and removed: %d, %v; want home alone", len(ds), err)
	}
	if got, err := d.Store.Device(ctx, ds[0].ID); err != nil || got.Revoked {
		t.Fatalf("home: %+v, %v", got, err)
	}
}
