package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/share/identity"
)

const password = "correct horse battery"

// startDirectory runs a directory on loopback with the account alice and
// returns its URL#FINGERPRINT.
func startDirectory(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startDirectoryOn(t, ln)
}

// startDirectoryOn is startDirectory on ln.
func startDirectoryOn(t *testing.T, ln net.Listener) string {
	t.Helper()
	u := dirtest.ServeOn(t, directory.Options{RateAuth: -1}, ln).URL
	c := client(t, u, nil)
	if err := c.CreateAccount(context.Background(), "alice", password); err != nil {
		t.Fatal(err)
	}
	return u
}

// client is a directory client signing as dev (none when nil).
func client(t *testing.T, u string, dev *identity.Identity) *directory.Client {
	t.Helper()
	base, fp, err := directory.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// supplier runs kith-supplier in the background until the test ends; its
// result is sent on the returned channel.
func supplier(t *testing.T, args ...string) chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(args, "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:7143")) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kith-supplier: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("kith-supplier did not stop")
		}
	})
	return done
}

// waitFor polls cond until it holds, failing the test if the supplier
// ends first or 30 s pass (an incidental wait: a server starting).
func waitFor(t *testing.T, done chan error, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case e := <-done:
			done <- e // for the cleanup
			t.Fatalf("kith-supplier ended (%v) before %s: %v", e, what, err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// enrolledAs asks the directory which account the folder's device is in.
func enrolledAs(t *testing.T, u, data string) func() error {
	return func() error {
		id, err := identity.Load(filepath.Join(data, "device.key"))
		if err != nil {
			return err
		}
		d, err := client(t, u, id).Whois(context.Background(), id.ID())
		if err != nil {
			return err
		}
		if d.Account != "alice" {
			return errors.New("enrolled under " + d.Account)
		}
		return nil
	}
}

// A first start whose enrolment fails (a wrong password) leaves the new
// device key; the next start, with the right password, still enrolls it.
// (It used to enroll only when it had just made the key, so the supplier
// stayed unenrolled for good.)
func TestEnrolmentRetriedAfterFailure(t *testing.T) {
	u := startDirectory(t)
	data := t.TempDir()
	args := []string{"--data", data, "--directory", u, "--account", "alice"}
	t.Setenv("KITH_PASSWORD", "wrong password")
	if err := run(context.Background(), append(args, "--listen", "127.0.0.1:0")); err == nil || !strings.Contains(err.Error(), "wrong account or password") {
		t.Fatalf("first start with a wrong password: %v, want the directory's refusal", err)
	}
	if _, err := os.Stat(filepath.Join(data, "device.key")); err != nil {
		t.Fatalf("the first start left no device key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, enrolledName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed enrolment left the marker: %v", err)
	}
	t.Setenv("KITH_PASSWORD", password)
	done := supplier(t, args...)
	waitFor(t, done, "the second start enrolls the device", enrolledAs(t, u, data))
	waitFor(t, done, "the marker is written", func() error {
		_, err := os.Stat(filepath.Join(data, enrolledName))
		return err
	})
}

// A folder from before the marker — a device key enrolled under alice
// and no DIR/enrolled — keeps working without a password: the supplier
// asks the directory, finds the device enrolled, and records it.
func TestEnrolledFolderFromBefore(t *testing.T) {
	u := startDirectory(t)
	data := t.TempDir()
	id, _, err := identity.LoadOrCreate(filepath.Join(data, "device.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client(t, u, id).EnrollDevice(context.Background(), "alice", password, "old supplier"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KITH_PASSWORD", "")
	done := supplier(t, "--data", data, "--directory", u, "--account", "alice")
	waitFor(t, done, "the marker is written", func() error {
		b, err := os.ReadFile(filepath.Join(data, enrolledName))
		if err == nil && string(b) != "alice\n" {
			return errors.New("marker says " + string(b))
		}
		return err
	})
	if err := enrolledAs(t, u, data)(); err != nil {
		t.Fatal(err)
	}
}

// Two suppliers cannot run one folder (they would share its key and
// library): the second is refused while the first holds the lock.
func TestOneSupplierPerFolder(t *testing.T) {
	u := startDirectory(t)
	data := t.TempDir()
	done := supplier(t, "--data", data, "--directory", u)
	waitFor(t, done, "the first supplier holds the folder", func() error {
		if held, err := datadir.Dir(data).InUse(); err != nil || !held {
			return errors.New("not held")
		}
		return nil
	})
	err := run(context.Background(), []string{"--data", data, "--directory", u, "--listen", "127.0.0.1:0"})
	if !errors.Is(err, datadir.ErrInUse) || !strings.Contains(err.Error(), "kith-supplier") {
		t.Fatalf("second supplier on the folder: %v, want %v naming the kith-supplier that may hold it", err, datadir.ErrInUse)
	}
}

// downListener closes every connection it accepts while down is set: a
// directory whose host cannot be reached.
type downListener struct {
	net.Listener
	down    atomic.Bool
	refused atomic.Int64
}

func (l *downListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.down.Load() {
			return c, err
		}
		l.refused.Add(1)
		c.Close()
	}
}

// A supplier that cannot reach its directory when it starts serves anyway
// and enrolls once the directory answers (it used to exit).
func TestEnrolsWhenDirectoryComesBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dl := &downListener{Listener: ln}
	u := startDirectoryOn(t, dl)
	dl.down.Store(true)
	data := t.TempDir()
	t.Setenv("KITH_PASSWORD", password)
	done := supplier(t, "--data", data, "--directory", u, "--account", "alice")
	waitFor(t, done, "the supplier tries the unreachable directory", func() error {
		if dl.refused.Load() == 0 {
			return errors.New("no attempt yet")
		}
		return nil
	})
	dl.down.Store(false)
	waitFor(t, done, "the supplier enrolls once the directory answers", enrolledAs(t, u, data))
	waitFor(t, done, "the marker is written", func() error {
		_, err := os.Stat(filepath.Join(data, enrolledName))
		return err
	})
}
