package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// enrollKey enrolls a new key under account with the cap max.
func enrollKey(s directory.Store, account string, max int) (directory.Device, error) {
	id, err := identity.Generate()
	if err != nil {
		return directory.Device{}, err
	}
	d := directory.Device{ID: id.ID(), Name: "dev", Account: account, Keys: id.Public(), Created: time.Now().Truncate(time.Millisecond)}
	return d, s.EnrollDevice(ctx, d, max)
}

// testDeviceLimit: EnrollDevice's cap counts the account's unrevoked
// devices, refuses a new key beyond it (saying how many), never a rename,
// frees a place on revoke and leave, and holds under concurrent
// enrolments.
func testDeviceLimit(t *testing.T, s directory.Store) {
	const max = 3
	for _, a := range []string{"dora", "bob"} {
		if err := s.CreateAccount(ctx, a, "h", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var ds []directory.Device
	for i := range max {
		d, err := enrollKey(s, "dora", max)
		if err != nil {
			t.Fatalf("device %d of %d: %v", i+1, max, err)
		}
		ds = append(ds, d)
	}
	_, err := enrollKey(s, "dora", max)
	var lim *directory.DeviceLimitError
	if !errors.As(err, &lim) || !errors.Is(err, directory.ErrDeviceLimit) || lim.Devices != max {
		t.Fatalf("device %d over a cap of %d: %v, want a DeviceLimitError of %d devices", max+1, max, err, max)
	}
	ds[0].Name = "renamed"
	if err := s.EnrollDevice(ctx, ds[0], max); err != nil {
		t.Errorf("renaming a device of a full account: %v", err)
	}
	if d, err := s.Device(ctx, ds[0].ID); err != nil || d.Name != "renamed" {
		t.Errorf("after the rename: %+v, %v", d, err)
	}
	other, err := enrollKey(s, "bob", max)
	if err != nil {
		t.Fatal(err)
	}
	other.Account = "dora"
	if err := s.EnrollDevice(ctx, other, max); !errors.Is(err, directory.ErrExists) {
		t.Errorf("another account's key into a full account: %v, want ErrExists", err)
	}
	if err := s.RevokeDevice(ctx, "dora", ds[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := enrollKey(s, "dora", max); err != nil {
		t.Errorf("after a revoke: %v, want a place", err)
	}
	if err := s.LeaveAccount(ctx, "dora", ds[2].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := enrollKey(s, "dora", max); err != nil {
		t.Errorf("after a device left: %v, want a place", err)
	}
	if _, err := enrollKey(s, "dora", max); !errors.Is(err, directory.ErrDeviceLimit) {
		t.Errorf("full again: %v, want ErrDeviceLimit", err)
	}
	if _, err := enrollKey(s, "dora", 0); err != nil {
		t.Errorf("no cap (0): %v", err)
	}

	// Many new keys at once into an account of max places, in a few
	// accounts: max get one in each.
	const n, rounds = 32, 4
	for r := range rounds {
		account := fmt.Sprintf("erin%d", r)
		if err := s.CreateAccount(ctx, account, "h", time.Now()); err != nil {
			t.Fatal(err)
		}
		ok := racing(t, n, "racing enrolment", directory.ErrDeviceLimit, func() error {
			_, err := enrollKey(s, account, max)
			return err
		})
		if got, _ := s.Devices(ctx, account); ok != max || len(got) != max {
			t.Errorf("%d racing enrolments into %d places: %d succeeded, %d devices", n, max, ok, len(got))
		}
	}
}
