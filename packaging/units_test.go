package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readFile returns a file of packaging/ as a string.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSystemdUnit checks the unit runs kith-directory as a dedicated
// unprivileged user with a state directory, and that systemd accepts it.
func TestSystemdUnit(t *testing.T) {
	unit := readFile(t, "kith-directory.service")
	for _, want := range []string{
		"DynamicUser=yes",               // a dedicated user, made by systemd
		"User=kith-directory",           // with a stable name
		"StateDirectory=kith-directory", // /var/lib/kith-directory, owned by that user
		"ExecStart=/usr/local/bin/kith-directory serve --data ${STATE_DIRECTORY}",
		"EnvironmentFile=-/etc/kith/kith-directory.env",
		"KillSignal=SIGTERM", // serve shuts down cleanly on SIGTERM
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("kith-directory.service lacks %q", want)
		}
	}
	verifyUnit(t, unit, "kith-directory.service")
}

// verifyUnit runs systemd-analyze verify on a copy of unit, named name,
// whose ExecStart points at a kith-directory built here.
func verifyUnit(t *testing.T, unit, name string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: static checks only")
		return
	}
	bin := filepath.Join(t.TempDir(), "kith-directory")
	if out, err := goCmd(t, []string{"CGO_ENABLED=1"}, "build", "-tags", "libsqlite3", "-o", bin, "./directory/cmd/kith-directory"); err != nil {
		t.Fatalf("building kith-directory: %v\n%s", err, out)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/bin/kith-directory", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", p).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
	}
}

// TestEnvFile checks every variable the env file sets is one kith-directory
// reads (a typo would be silently ignored by the server).
func TestEnvFile(t *testing.T) {
	known := map[string]bool{}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "directory", "cmd", "kith-directory", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`KITH_DIRECTORY_[A-Z_]+`).FindAllString(string(src), -1) {
		known[m] = true
	}
	for _, f := range []string{"kith-directory.env", "kith-directory-shared.env"} {
		n := 0
		for _, l := range strings.Split(readFile(t, f), "\n") {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
			k, _, ok := strings.Cut(l, "=")
			if !ok || !strings.HasPrefix(k, "KITH_") {
				continue
			}
			n++
			if !known[k] {
				t.Errorf("%s sets %s, which kith-directory does not read", f, k)
			}
		}
		if n == 0 {
			t.Errorf("%s sets nothing", f)
		}
	}
}

// TestSystemdTemplateUnit checks the several-instances template: every
// instance shares the database and the key (a credential, never created by
// serve), has its own state folder, and systemd accepts an instance of it.
func TestSystemdTemplateUnit(t *testing.T) {
	unit := readFile(t, "kith-directory@.service")
	for _, want := range []string{
		"DynamicUser=yes",
		"StateDirectory=kith-directory/%i",
		"EnvironmentFile=/etc/kith/kith-directory-shared.env",
		"EnvironmentFile=-/etc/kith/kith-directory-%i.env",
		"LoadCredential=directory.key:/etc/kith/directory.key",
		"Environment=PGPASSFILE=%d/pgpass",
		"ExecStart=/usr/local/bin/kith-directory serve --data ${STATE_DIRECTORY}",
		"KillSignal=SIGTERM",
		"NoNewPrivileges=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("kith-directory@.service lacks %q", want)
		}
	}
	if !strings.Contains(readFile(t, "kith-directory-shared.env"), "KITH_DIRECTORY_STORE=postgres://") {
		t.Error("kith-directory-shared.env names no PostgreSQL store")
	}
	verifyUnit(t, unit, "kith-directory@1.service")
}

// TestContainerfile checks the container file builds the same binary the
// ldd test checks, runs it unprivileged with a state volume, and (when a
// container engine is running and KITH_PACKAGING_CONTAINER=1) builds it.
func TestContainerfile(t *testing.T) {
	cf := readFile(t, "Containerfile")
	for _, want := range []string{
		"CGO_ENABLED=1 go build -tags libsqlite3",
		"./directory/cmd/kith-directory",
		"libsqlite3-0", // the only run-time library added
		"USER kith",    // not root
		"VOLUME /var/lib/kith-directory",
		`"serve", "--data", "/var/lib/kith-directory"`,
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	for _, bad := range []string{"libgl", "libx11", "libasound", "xorg"} {
		if strings.Contains(strings.ToLower(cf), bad) {
			t.Errorf("Containerfile installs %s", bad)
		}
	}
	if os.Getenv("KITH_PACKAGING_CONTAINER") == "" {
		t.Log("set KITH_PACKAGING_CONTAINER=1 to build the image (needs podman or a running docker, and network)")
		return
	}
	engine := ""
	for _, e := range []string{"podman", "docker"} {
		if p, err := exec.LookPath(e); err == nil && exec.Command(p, "info").Run() == nil {
			engine = p
			break
		}
	}
	if engine == "" {
		t.Skip("skipping the image build: no running podman or docker")
	}
	cmd := exec.Command(engine, "build", "-f", "packaging/Containerfile", "-t", "kith-directory:test", ".")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	if out, err := exec.Command(engine, "run", "--rm", "kith-directory:test", "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "serve") {
		t.Errorf("running the image: %v\n%s", err, out)
	}
}
