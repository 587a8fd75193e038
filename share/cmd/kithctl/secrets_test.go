package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/datadir"
)

// fakeDevice answers the control socket in dir like a running device and
// records the requests it gets.
type fakeDevice struct {
	mu   sync.Mutex
	reqs []Request
}

func startFakeDevice(t *testing.T, dir string) *fakeDevice {
	t.Helper()
	ln, err := net.Listen("unix", datadir.Dir(dir).ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDevice{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeDevice) take() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// TestSecuritySecretsNotInArgv (issue 11 item 9): kithctl took the account
// password and the card number and security code as arguments, where any
// user of the machine reads them (ps, /proc/PID/cmdline). They are now
// refused there, before anything is sent, and read from a file, the
// environment or a terminal prompt instead.
func TestSecuritySecretsNotInArgv(t *testing.T) {
	dir := t.TempDir()
	dev := startFakeDevice(t, dir)
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("file-password\nignored\n"), 0o600)
	cardFile := filepath.Join(dir, "card")
	os.WriteFile(cardFile, []byte("# test card\nnumber: 4242 4242 4242 4242\ncvc: 321\nexpiry=12/39\n"), 0o600)
	for _, k := range []string{envPassword, envCardNumber, envCardCVC, "KITH_DATA", "KITH_DIRECTORY"} {
		t.Setenv(k, "")
	}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		wantOut string
		check   func(t *testing.T, reqs []Request)
	}{
		{name: "password as an argument is refused", args: []string{"signin", "alice", "argv-password"}, code: 2, wantOut: envPassword},
		{name: "signup password as an argument is refused", args: []string{"signup", "alice", "argv-password"}, code: 2, wantOut: envPassword},
		{name: "card number as a flag is refused", args: []string{"buy", "A440", "--card", "4242424242424242", "--expiry", "12/39", "--cvc", "123"}, code: 2, wantOut: envCardNumber},
		{name: "security code as a flag is refused", args: []string{"register-via", "X", "A440", "--cvc", "123"}, code: 2, wantOut: "--card-file"},
		{name: "password from a file", args: []string{"signin", "alice", "--password-file", pwFile, "--name", "laptop"}, check: func(t *testing.T, r []Request) {
			if len(r) != 1 || r[0].Account != "alice" || r[0].Password != "file-password" || r[0].Name != "laptop" {
				t.Errorf("sent %+v", r)
			}
		}},
		{name: "password from the environment", env: map[string]string{envPassword: "env-password"}, args: []string{"signup", "alice"}, check: func(t *testing.T, r []Request) {
			if len(r) != 1 || r[0].Password != "env-password" {
				t.Errorf("sent %+v", r)
			}
		}},
		{name: "card from a file", args: []string{"buy", "A440", "--card-file", cardFile, "--card-name", "A Holder"}, check: func(t *testing.T, r []Request) {
			if len(r) != 1 || r[0].Payment == nil || r[0].Payment.Card != "4242 4242 4242 4242" || r[0].Payment.CVC != "321" ||
				r[0].Payment.Expiry != "12/39" || r[0].Payment.Name != "A Holder" {
				t.Errorf("sent %+v", r)
			}
		}},
		{name: "card from the environment", env: map[string]string{envCardNumber: "4242424242424242", envCardCVC: "999"}, args: []string{"getkey", "A440", "--expiry", "01/40"}, check: func(t *testing.T, r []Request) {
			if len(r) != 1 || r[0].Payment == nil || r[0].Payment.CVC != "999" || r[0].Payment.Expiry != "01/40" {
				t.Errorf("sent %+v", r)
			}
		}},
		{name: "no card: no payment", args: []string{"buy", "Low Hum"}, check: func(t *testing.T, r []Request) {
			if len(r) != 1 || r[0].Payment != nil {
				t.Errorf("sent %+v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"--data", dir}, c.args...), &out, &errb)
			reqs := dev.take()
			if code != c.code {
				t.Fatalf("exit %d, want %d (sent %+v)\nstdout: %s\nstderr: %s", code, c.code, reqs, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), c.wantOut) {
				t.Errorf("output lacks %q:\n%s%s", c.wantOut, out.String(), errb.String())
			}
			if c.code != 0 && len(reqs) > 0 {
				t.Errorf("sent %+v although the command line was refused", reqs)
			}
			if c.check != nil {
				c.check(t, reqs)
			}
		})
	}
	// With no file, no environment and no terminal, signin says where the
	// password can come from.
	if tty, err := os.Open("/dev/tty"); err == nil {
		tty.Close()
		t.Log("a terminal is attached: not checking the no-terminal message")
		return
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--data", dir, "signin", "alice"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), envPassword) {
		t.Errorf("signin without a password source: exit %d: %s", code, errb.String())
	}
	if r := dev.take(); len(r) != 0 {
		t.Errorf("sent %+v without a password", r)
	}
}

// FuzzReadCardFile: any card file is read or refused, never a panic, and
// what is read has no line breaks.
func FuzzReadCardFile(f *testing.F) {
	f.Add("number: 4242 4242 4242 4242\ncvc: 123\nexpiry=12/39\n# comment\n")
	f.Add("number=1:2\nname: a=b\n")
	f.Add("bogus\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "card")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var pay license.Payment
		if readCardFile(p, &pay) != nil {
			return
		}
		for _, v := range []string{pay.Card, pay.CVC, pay.Expiry, pay.Name, pay.Address} {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("field %q from %q", v, text)
			}
		}
	})
}
