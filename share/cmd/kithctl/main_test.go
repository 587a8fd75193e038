package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-media/kith/internal/datadir"
)

// TestParse checks flags and positional arguments may be interleaved.
func TestParse(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		min, max int
		wantPos  []string
		wantFrom []string
		wantErr  bool
	}{
		// flags after the positional argument, as people type them
		{"flags after", []string{"A440", "--from", "X", "--from", "Y"}, 1, 1, []string{"A440"}, []string{"X", "Y"}, false},
		// flags before
		{"flags before", []string{"--from", "X", "A440"}, 1, 1, []string{"A440"}, []string{"X"}, false},
		// a name with spaces arrives as one argument
		{"spaces", []string{"Evening Bells"}, 1, 1, []string{"Evening Bells"}, nil, false},
		// too many positional arguments
		{"too many", []string{"a", "b"}, 1, 1, nil, nil, true},
		// missing argument
		{"missing", nil, 1, 1, nil, nil, true},
		// unknown flag
		{"unknown flag", []string{"--nope", "a"}, 1, 1, nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
			var from multi
			fs.Var(&from, "from", "")
			pos, err := parse(fs, c.args, c.min, c.max)
			if c.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("got %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, "|") != strings.Join(c.wantPos, "|") || strings.Join(from, "|") != strings.Join(c.wantFrom, "|") {
				t.Fatalf("got %q from %q, want %q from %q", pos, from, c.wantPos, c.wantFrom)
			}
		})
	}
}

// TestRunExitCodes checks help, bad command lines and a missing device.
func TestRunExitCodes(t *testing.T) {
	dir, xdg := t.TempDir(), t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	cases := []struct {
		name    string
		args    []string
		code    int
		wantOut string // in stdout or stderr
	}{
		// --help prints the usage and succeeds
		{"help", []string{"--help"}, 0, ""},
		// "help" lists every command
		{"help command", []string{"help"}, 0, "register-via NEIGHBOUR TITLE"},
		// no command
		{"no command", nil, 2, "Usage"},
		// without --data or KITH_DATA, the app's folder ($XDG_DATA_HOME/kith)
		{"default data", []string{"status"}, 1, "kithctl --data " + filepath.Join(xdg, "kith") + " serve"},
		// an empty data folder name
		{"empty data", []string{"--data", "", "status"}, 2, "--data DIR is empty"},
		// unknown command
		{"unknown", []string{"--data", dir, "frobnicate"}, 2, `unknown command "frobnicate"`},
		// --name is signin's (the device's name); signup makes an account and takes none
		{"signup name", []string{"--data", dir, "signup", "alice", "--name", "laptop"}, 2, "flag provided but not defined: -name"},
		// no device running: says how to start one
		{"no device", []string{"--data", dir, "status"}, 1, "kithctl --data " + dir + " serve"},
		// serve without a directory on the first run
		{"serve without directory", []string{"--data", dir, "serve"}, 1, "--directory URL#FINGERPRINT is required"},
		// a directory URL without the fingerprint to pin
		{"no fingerprint", []string{"--data", dir, "--directory", "https://x:8443", "serve"}, 1, "the fingerprint is missing"},
		// a malformed directory URL
		{"bad directory", []string{"--data", dir, "--directory", "ftp://x#ABC", "serve"}, 1, "scheme must be https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KITH_DATA", "")
			t.Setenv("KITH_DIRECTORY", "")
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), c.wantOut) {
				t.Fatalf("output lacks %q:\n%s%s", c.wantOut, out.String(), errb.String())
			}
		})
	}
}

// TestControlSocket checks the socket is private and a second serve on the
// same data folder is refused.
func TestControlSocket(t *testing.T) {
	p := datadir.Dir(t.TempDir()).ControlSocket()
	ln, err := listenUnix(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("socket mode %o, want 600", m)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := listenUnix(p); err == nil || !strings.Contains(err.Error(), "already runs") {
		t.Fatalf("second listener: %v, want refused", err)
	}
}

// TestServeLANFlags: serve takes the app's spelling, --no-lan and
// KITH_NO_LAN, and still the old one, --lan=false and KITH_LAN=false;
// mDNS is on unless one of them says off.
func TestServeLANFlags(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		on   bool
	}{
		{"default", nil, nil, true},
		{"--no-lan", nil, []string{"--no-lan"}, false},
		{"KITH_NO_LAN=1", map[string]string{"KITH_NO_LAN": "1"}, nil, false},
		{"KITH_NO_LAN=1 --no-lan=false", map[string]string{"KITH_NO_LAN": "1"}, []string{"--no-lan=false"}, true},
		{"old --lan=false", nil, []string{"--lan=false"}, false},
		{"old KITH_LAN=false", map[string]string{"KITH_LAN": "false"}, nil, false},
		{"old --lan", nil, []string{"--lan"}, true},
		{"--lan=false --no-lan=false", nil, []string{"--lan=false", "--no-lan=false"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KITH_NO_LAN", "")
			t.Setenv("KITH_LAN", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var cfg serveConfig
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			if err := serveSettings(&cfg, new(bool)).Bind(fs); err != nil {
				t.Fatal(err)
			}
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			if got := cfg.lanOn(); got != c.on {
				t.Errorf("mDNS on = %v, want %v", got, c.on)
			}
		})
	}
	if u := usageText(); !strings.Contains(u, "--no-lan") || !strings.Contains(u, "KITH_NO_LAN") {
		t.Errorf("kithctl --help does not name --no-lan and KITH_NO_LAN:\n%s", u)
	}
}
