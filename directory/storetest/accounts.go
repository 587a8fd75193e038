package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

func testAccountsAndDevices(t *testing.T, s directory.Store) {
	d, _ := seed(t, s)
	if err := s.CreateAccount(ctx, "alice", "h", time.Now()); !errors.Is(err, directory.ErrExists) {
		t.Errorf("duplicate account: %v", err)
	}
	if h, err := s.PasswordHash(ctx, "alice"); err != nil || h != "hash-alice" {
		t.Errorf("password hash: %q %v", h, err)
	}
	if _, err := s.PasswordHash(ctx, "nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing account: %v", err)
	}
	got, err := s.Device(ctx, d.ID)
	if err != nil || got.Account != "alice" || string(got.Keys.Sign) != string(d.Keys.Sign) ||
		string(got.Keys.Box) != string(d.Keys.Box) || !got.Created.Equal(d.Created) || got.Revoked {
		t.Fatalf("device: %+v, %v", got, err)
	}
	if _, err := s.Device(ctx, "NOSUCHDEVICE"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing device: %v", err)
	}
	d.Name = "renamed" // enrolling the same key again under the same account renames it
	if err := s.EnrollDevice(ctx, d, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Device(ctx, d.ID); got.Name != "renamed" {
		t.Errorf("name after re-enrollment: %q", got.Name)
	}
	d2 := newDevice(t, s, "alice")
	if ds, err := s.Devices(ctx, "alice"); err != nil || len(ds) != 2 {
		t.Errorf("devices of alice: %d, %v", len(ds), err)
	}
	other := d
	other.Account = "bob"
	if err := s.EnrollDevice(ctx, other, 0); !errors.Is(err, directory.ErrExists) {
		t.Errorf("same key under another account: %v", err)
	}
	if err := s.RevokeDevice(ctx, "bob", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("revoking another account's device: %v", err)
	}
	if err := s.RevokeDevice(ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Device(ctx, d.ID); err != nil || !got.Revoked {
		t.Errorf("device after revoke: %+v, %v", got, err)
	}
	if ds, err := s.Devices(ctx, "alice"); err != nil || len(ds) != 1 || ds[0].ID != d2.ID || ds[0].Revoked {
		t.Errorf("devices of alice after revoking one: %+v, %v; want the other alone", ds, err)
	}
	if err := s.EnrollDevice(ctx, d, 0); !errors.Is(err, directory.ErrExists) {
		t.Errorf("re-enrolling a revoked device: %v", err)
	}
	as, err := s.Accounts(ctx)
	if err != nil || len(as) != 2 || as[0].Name != "alice" || as[0].Devices != 1 || as[0].Removed != 1 || as[1].Name != "bob" ||
		as[1].Devices != 0 || as[1].Removed != 0 {
		t.Errorf("accounts: %+v, %v", as, err)
	}
}

func testConcurrentEnrollment(t *testing.T, s directory.Store) {
	const n = 8
	ok := racing(t, n, "racing account creation", directory.ErrExists, func() error {
		return s.CreateAccount(ctx, "carol", "h", time.Now())
	})
	if ok != 1 {
		t.Errorf("%d creations of one account succeeded", ok)
	}
	id, _ := identity.Generate()
	d := directory.Device{ID: id.ID(), Name: "dev", Account: "carol", Keys: id.Public(), Created: time.Now()}
	racing(t, n, "racing enrollment of one key under its account", nil, func() error {
		return s.EnrollDevice(ctx, d, 0)
	})
	if ds, _ := s.Devices(ctx, "carol"); len(ds) != 1 {
		t.Errorf("%d devices after racing enrollments of one key", len(ds))
	}
}

// racing runs f n times at once (released together, so the store meets
// them as one burst) and returns how many succeeded; an error other than
// refused (nil: none is expected) is the test's.
func racing(t *testing.T, n int, what string, refused error, f func() error) int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { <-start; errs[i] = f() })
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case refused == nil || !errors.Is(err, refused):
			t.Errorf("%s: %v", what, err)
		}
	}
	return ok
}

func testBindIdentity(t *testing.T, s directory.Store) {
	b, ok := s.(Binder)
	if !ok {
		t.Skip("the store has no BindIdentity")
	}
	a, _ := identity.Generate()
	other, _ := identity.Generate()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs { // instances starting together: the first binds, all agree
		wg.Go(func() { errs[i] = b.BindIdentity(ctx, a.ID(), time.Now()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("binding: %v", err)
		}
	}
	if err := b.BindIdentity(ctx, other.ID(), time.Now()); !errors.Is(err, directory.ErrOtherIdentity) {
		t.Errorf("another key: %v", err)
	}
	if err := b.BindIdentity(ctx, a.ID(), time.Now()); err != nil {
		t.Errorf("the same key again: %v", err)
	}
}

// testLeaveAccount: a device leaves its account (holdings, announcement
// and row go; its purchases keep naming it) and may enroll under another;
// it cannot leave an account it is not in, nor when revoked.
func testLeaveAccount(t *testing.T, s directory.Store) {
	d, tr := seed(t, s)
	now := time.Now()
	a := &directory.AnnounceRecord{Device: d.ID, Expires: now.Add(time.Minute), Announcement: directory.Announcement{
		Addrs: []string{"10.0.0.1:7000"}, Holdings: []directory.Holding{{Content: tr.ContentID, Complete: true, Policy: directory.Policy{Mode: "anyone"}}}}}
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	p := purchase(d, tr, "p1", "nonce-leave-1")
	if _, _, err := s.BeginPurchase(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveAccount(ctx, "bob", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("leaving an account it is not in: %v", err)
	}
	if err := s.LeaveAccount(ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Device(ctx, d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("device after leaving: %v, want not found", err)
	}
	if _, err := s.Announcement(ctx, d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("announcement after leaving: %v, want not found", err)
	}
	if on := online(t, s, now); len(on) != 0 {
		t.Errorf("a device that left is still online: %+v", on)
	}
	if err := s.LeaveAccount(ctx, "alice", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("leaving twice: %v", err)
	}
	d.Account = "bob"
	if err := s.EnrollDevice(ctx, d, 0); err != nil {
		t.Fatalf("enrolling under another account after leaving: %v", err)
	}
	if got, err := s.Device(ctx, d.ID); err != nil || got.Account != "bob" {
		t.Errorf("device after enrolling again: %+v, %v", got, err)
	}
	if err := s.Announce(ctx, a); err != nil {
		t.Fatalf("announcing under the new account: %v", err)
	}
	for _, c := range online(t, s, now) {
		if c.Account != "bob" {
			t.Errorf("online under %q after moving to bob", c.Account)
		}
	}
	if err := s.RevokeDevice(ctx, "bob", d.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveAccount(ctx, "bob", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a revoked device left: %v", err)
	}
	if got, err := s.Device(ctx, d.ID); err != nil || !got.Revoked {
		t.Errorf("revoked device after a leave: %+v, %v", got, err)
	}
}
