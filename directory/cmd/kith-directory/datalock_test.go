package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOneServePerFolder: a second `kith-directory serve` on a folder a
// running one holds (SQLite store) is refused, exit 1, with a message
// naming the folder and what to do, before it prints a URL — two
// directories on one database would each see only the devices that reach
// it. Once the first stops, the folder serves again (same key). Real
// processes.
func TestOneServePerFolder(t *testing.T) {
	data := t.TempDir()
	first := serve(t, data)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // incidental: a process starting and exiting
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if ctx.Err() != nil {
		t.Fatalf("a second serve on %s was still running after 60 s; it printed %q", data, out.String())
	}
	msg := errb.String()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(msg, "data folder in use") || !strings.Contains(msg, data) ||
		!strings.Contains(msg, "another kith-directory serve") || !strings.Contains(msg, "another --data") {
		t.Fatalf("second serve on the folder: %v, stderr %q; want exit 1 saying the folder is in use and what to do", err, msg)
	}
	if out.String() != "" {
		t.Fatalf("the refused serve printed %q", out.String())
	}

	first.stop(t)
	if again := serve(t, data); again.fp != first.fp {
		t.Fatalf("after the first stopped: fingerprint %s, want the same key's %s", again.fp, first.fp)
	}
}
