package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kith-media/kith/internal/pgtest"
)

// runFail runs a subcommand that must fail and returns its stderr.
func runFail(t *testing.T, args ...string) string {
	t.Helper()
	var errb strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &errb
	if err := cmd.Run(); err == nil {
		t.Fatalf("kith-directory %s succeeded", strings.Join(args, " "))
	}
	return errb.String()
}

// TestPostgresStore: a directory on PostgreSQL from the command line.
// serve refuses to make a key in shared mode; migrate makes it once and
// binds the database to it; publish, serve (enroll, a paid purchase; a
// second serve on the same folder, which holds no lock with PostgreSQL)
// and accounts all work on the shared database; a second data folder with
// another key is refused by the same database; a password on the command
// line is refused.
func TestPostgresStore(t *testing.T) {
	dsn := pgtest.NewDB(t)
	data := t.TempDir()
	if e := runFail(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--store", dsn); !strings.Contains(e, "never created by serve") {
		t.Errorf("serve without a key in shared mode: %s", e)
	}
	if _, err := os.Stat(data + "/directory.key"); err == nil {
		t.Fatal("serve created a key in shared mode")
	}
	out := runCmd(t, "migrate", "--data", data, "--store", dsn)
	if !strings.Contains(out, "created the directory key") || !strings.Contains(out, "schema version 10") {
		t.Errorf("migrate: %s", out)
	}
	if out := runCmd(t, "migrate", "--data", data, "--store", dsn); strings.Contains(out, "created") || !strings.Contains(out, "schema version 10") {
		t.Errorf("migrate again: %s", out)
	}
	song, _ := publishFile(t, data, 64<<10, "--title", "Song", "--price", "1.99", "--store", dsn)
	p := serve(t, data, "--store", dsn)
	// A second instance on the same folder (its directory.key, its
	// origin/) and database: instances on PostgreSQL share their view of
	// online devices there, so serve takes no lock on the folder (on
	// SQLite a second serve exits, TestOneServePerFolder).
	p2 := serve(t, data, "--store", dsn)
	d := enroll(t, p, "alice", "laptop")
	r, err := d.c.Register(context.Background(), d.seal(t, song.ID, goodCard))
	if err != nil || r.Receipt.Amount != 199 {
		t.Fatalf("purchase on PostgreSQL: %+v %v", r, err)
	}
	if dev, err := enroll(t, p2, "alice", "phone").c.Whois(context.Background(), d.id.ID()); err != nil || dev.Account != "alice" {
		t.Fatalf("alice's laptop, enrolled through the first instance, asked of the second sharing its folder: %+v %v", dev, err)
	}
	p2.stop(t)
	p.stop(t)
	if out := runCmd(t, "accounts", "--data", data, "--store", dsn); !strings.Contains(out, "alice") {
		t.Errorf("accounts: %s", out)
	}
	other := t.TempDir()
	if e := runFail(t, "migrate", "--data", other, "--store", dsn); !strings.Contains(e, "belongs to another directory key") {
		t.Errorf("another key on the same database: %s", e)
	}
	withPass := strings.Replace(dsn, "postgres@", "postgres:secret@", 1)
	if e := runFail(t, "accounts", "--data", data, "--store", withPass); !strings.Contains(e, "password is refused") {
		t.Errorf("a password in argv: %s", e)
	}
	if e := runFail(t, "accounts", "--data", data, "--store", "mysql://x"); !strings.Contains(e, "postgres://") {
		t.Errorf("an unknown store: %s", e)
	}
}
