package share

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/install"
)

// The peer port answers peers over TLS and browsers with the install page,
// both at once.
func TestNodeOffersItsPackage(t *testing.T) {
	pkgDir := t.TempDir()
	pkg := []byte("a Kith package, pretend it is xz")
	if err := os.WriteFile(filepath.Join(pkgDir, "Kith.tar.xz"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pkg)
	want := hex.EncodeToString(sum[:])

	newNode := func(name, installDir string) *Node {
		id, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		n, err := NewNode(Options{DataDir: t.TempDir(), Identity: id, Name: name, InstallDir: installDir, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Serve(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: Serve: %v", name, err)
			}
		})
		return n
	}
	a := newNode("attic", pkgDir)
	b := newNode("den", "")

	if got := a.InstallURL(); got != "http://"+a.Addr()+"/" {
		t.Errorf("InstallURL = %q, want http://%s/", got, a.Addr())
	}
	info, err := a.InstallPackage()
	if err != nil || !info.Available || info.SHA256 != want {
		t.Errorf("InstallPackage = %+v, %v; want %s", info, err, want)
	}

	// A browser gets the page with the checksum, and the package.
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	for path, wantBody := range map[string]string{
		"/":                       want,
		"/" + install.PackageName: string(pkg),
		"/kith/v1/hello":          "not found", // the peer protocol stays TLS-only
	} {
		resp, err := hc.Get(a.InstallURL() + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), wantBody) {
			t.Errorf("GET %s: %s, body lacks %q", path, resp.Status, wantBody)
		}
	}

	// A peer still speaks mutual TLS on the same port.
	pc, err := b.Peer(a.ID(), []string{a.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := pc.Hello(ctx)
	if err != nil || h.Device != a.ID() || h.Name != "attic" {
		t.Fatalf("Hello over TLS: %+v, %v", h, err)
	}

	// A node without a package says so on the same page.
	if info, err := b.InstallPackage(); err != nil || info.Available {
		t.Errorf("b: InstallPackage = %+v, %v", info, err)
	}
	resp, err := hc.Get(b.InstallURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "not available on this device") {
		t.Errorf("b's page: %s\n%s", resp.Status, body)
	}
}
