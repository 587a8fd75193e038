package wire

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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
	dev, attic := otherDevice(t, k)
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

// A device over the account's cap (the household directory's default, 32)
// is refused with the directory's device_limit error, its words kept, so
// the app can show them and point to Settings → Devices; removing one of
// the others there makes room, and the same device then signs in.
func TestDeviceLimitThenRoom(t *testing.T) {
	ctx := context.Background()
	k, stop := startKith(t, ctx, t.TempDir())
	defer stop()
	s := k.Backend.Session
	if err := s.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	var other identity.ID
	for i := 1; i < directory.DefaultMaxDevices; i++ {
		dev, dc := otherDevice(t, k)
		if err := enrollPaced(ctx, dc, "old laptop"); err != nil {
			t.Fatalf("device %d: %v", i+1, err)
		}
		other = dev.ID()
	}
	_, dc := otherDevice(t, k)
	late, err := NewSession(dc, k.Session.Directory(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = paced(func() error { return late.SignIn(ctx, "household", "correct horse battery", "new phone") })
	var de *directory.Error
	if !errors.As(err, &de) || de.Code != directory.CodeDeviceLimit || !strings.Contains(de.Message, "32 devices") {
		t.Fatalf("the 33rd device signing in: %v; want device_limit in the directory's words", err)
	}
	if late.Account() != "" {
		t.Fatalf("a refused device is signed in as %q", late.Account())
	}
	if err := s.RemoveDevice(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := paced(func() error { return late.SignIn(ctx, "household", "correct horse battery", "new phone") }); err != nil {
		t.Fatalf("after removing an old device: %v", err)
	}
}

// enrollPaced enrolls dc under "household", waiting out the directory's
// rate limit on sign-ins (it answers 429 with how long to wait).
func enrollPaced(ctx context.Context, dc *directory.Client, name string) error {
	return paced(func() error { return dc.EnrollDevice(ctx, "household", "correct horse battery", name) })
}

// paced calls f until the directory does not answer it 429.
func paced(f func() error) error {
	for {
		err := f()
		var de *directory.Error
		if !errors.As(err, &de) || de.Code != directory.CodeRateLimited {
			return err
		}
		time.Sleep(max(de.RetryAfter, 10*time.Millisecond))
	}
}

// FuzzShortName: whatever name the directory sends, a row shows at most
// maxDeviceName runes of valid UTF-8 and "…" on one line, without control,
// bidi or line-breaking characters; a plain name is shown as it is.
func FuzzShortName(f *testing.F) {
	for _, s := range []string{"attic", "", "a\nfake device — this device", "\u202eevil", "\xff\xfe", strings.Repeat("é", 200),
		"attic\u2028this device", "a\u2029b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		got := shortName(n)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxDeviceName+1 {
			t.Fatalf("shortName(%q) = %q", n, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("shortName(%q) = %q keeps %U", n, got, r)
			}
		}
		if utf8.ValidString(n) && utf8.RuneCountInString(n) <= maxDeviceName && strings.Join(strings.Fields(n), " ") == n &&
			!strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) && got != n {
			t.Fatalf("shortName(%q) = %q changed a plain name", n, got)
		}
	})
}

// A line or paragraph separator (U+2028, U+2029) is a mandatory line
// break in Unicode (UAX #14) as a newline is: a name holding one could be
// drawn as a second row that looks like another device. It is shown as a
// space (before, shortName turned only control characters into spaces).
func TestShortNameLineSeparators(t *testing.T) {
	for n, want := range map[string]string{
		"attic\u2028this device (new phone)": "attic this device (new phone)",
		"attic\u2029\u2029den":               "attic den",
	} {
		if got := shortName(n); got != want {
			t.Errorf("shortName(%q) = %q; want %q", n, got, want)
		}
	}
}

// A directory's answer may be one 16 MiB name (the client's bound on an
// answer): shortName keeps its first runes without converting all of it.
func TestShortNameOfAHugeName(t *testing.T) {
	n := strings.Repeat("é", 8<<20) // 16 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := shortName(n)
	runtime.ReadMemStats(&after)
	if want := strings.Repeat("é", maxDeviceName) + "…"; got != want {
		t.Fatalf("shortName of 8 Mi runes = %q; want %q", got, want)
	}
	if b := after.TotalAlloc - before.TotalAlloc; b > 64<<10 {
		t.Fatalf("shortName of a 16 MiB name allocated %d bytes; want a row's worth", b)
	}
}

// otherDevice is a new device of the household: its own identity and a
// client of the directory k joined (real TLS), not yet enrolled.
func otherDevice(t testing.TB, k *Kith) (*identity.Identity, *directory.Client) {
	t.Helper()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dc, err := directory.NewClient(directory.ClientOptions{URL: k.Joined.String(), Device: dev, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return dev, dc
}

// Signing up with a device name the directory refuses (a bidi override
// that shows "Kitchen\u202Etxt.exe" as "Kitchenexe.txt") is refused in
// the directory's words before the account is made: signing up again with
// a good name and another password then works. Without the check the
// account was made with the first password and the second sign-up said
// the name was taken.
func TestSignUpRefusesAHostileDeviceName(t *testing.T) {
	ctx := context.Background()
	k, stop := startKith(t, ctx, t.TempDir())
	defer stop()
	s := k.Backend.Session
	err := s.SignUp(ctx, "household", "first password", "Kitchen\u202Etxt.exe")
	var de *directory.Error
	if !errors.As(err, &de) || de.Status != 400 || !strings.Contains(de.Message, "U+202E") {
		t.Fatalf("signing up as Kitchen\\u202Etxt.exe: %v; want the directory's 400 naming U+202E", err)
	}
	if s.Account() != "" {
		t.Fatalf("signed in as %q after the refusal", s.Account())
	}
	if err := s.SignUp(ctx, "household", "second password", "Kitchen"); err != nil {
		t.Fatalf("signing up again with a good name: %v", err)
	}
}
