package share

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var testCard = &license.Payment{Name: "Test Buyer", Card: "4242 4242 4242 4242", Expiry: "12/39", CVC: "123", Address: "1 Test St"}

// testDirectory is a real directory server (SQLite store, origin folder) on loopback TLS.
type testDirectory struct {
	ident     *identity.Identity
	store     *sqlitestore.Store
	originDir string
	url       string
	srv       *directory.Server
	mu        sync.Mutex
	accounts  map[string]bool
}

func startDirectory(t testing.TB) *testDirectory { return startDirectoryWith(t, nil) }

// startPublishingDirectory is startDirectoryWith (tune may be nil) with
// accounts allowed to publish their own files (PublishAccounts), as a
// household's devices add theirs.
func startPublishingDirectory(t testing.TB, tune func(*directory.Options)) *testDirectory {
	t.Helper()
	d := startDirectoryWith(t, tune)
	if err := d.srv.SetPublishPolicy(directory.PublishPolicy{Mode: directory.PublishAccounts}); err != nil {
		t.Fatal(err)
	}
	return d
}

// startDirectoryWith is startDirectory with tune applied to the options
// (Identity is set when it is called).
func startDirectoryWith(t testing.TB, tune func(*directory.Options)) *testDirectory {
	t.Helper()
	ctx := context.Background()
	ident, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "dir.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &testDirectory{ident: ident, store: st, originDir: filepath.Join(dir, "origin"), accounts: map[string]bool{}}
	o := directory.Options{Identity: ident, Store: st, OriginDir: d.originDir,
		Logger: dirLog, RateIP: -1, RateDevice: -1, RateAuth: -1,
		// Up to 16 connections from each of BenchmarkFlashCrowd's 500
		// devices (directory.DefaultMaxConns is 4,096); the process's
		// descriptor limit here is 20,000.
		MaxConns: 10_000,
		// BenchmarkFlashCrowd enrols all its devices (up to 500) in one
		// account, "crowd"; a household has DefaultMaxDevices at most.
		MaxDevices: -1}
	if tune != nil {
		tune(&o)
	}
	t.Cleanup(func() { st.Close() }) // after the server stops (cleanups run last-first)
	served := dirtest.Serve(t, o)
	d.srv, d.url = served.Server, "https://"+served.Addr
	return d
}

// client is a directory client for device dev (nil: anonymous).
func (d *testDirectory) client(t testing.TB, dev *identity.Identity) *directory.Client {
	t.Helper()
	c, err := directory.NewClient(directory.ClientOptions{URL: d.url, Fingerprint: d.ident.ID(), Device: dev, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// publish puts a title of n random bytes in the catalog.
func (d *testDirectory) publish(t testing.TB, name string, n int, price int64) (*directory.Title, []byte) {
	t.Helper()
	plain := make([]byte, n)
	var seed [32]byte
	copy(seed[:], name)
	rand.NewChaCha8(seed).Read(plain)
	title, err := directory.Publish(context.Background(), d.store, d.ident, d.originDir, bytes.NewReader(plain),
		directory.PublishOptions{Name: name, Artist: "Test Band", MediaType: "audio/mpeg", Price: price})
	if err != nil {
		t.Fatal(err)
	}
	return title, plain
}

// holdTitle makes n a holder of title: it buys it (testCard) and
// downloads it whole, from wherever the directory sends it, as the
// neighbour or supplier a flow starts from.
func holdTitle(t testing.TB, n *Node, title *directory.Title) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.Buy(ctx, title.ID, testCard); err != nil {
		t.Fatalf("buying %q: %v", title.Name, err)
	}
	if err := n.Fetch(ctx, title.ContentID); err != nil {
		t.Fatalf("downloading %q: %v", title.Name, err)
	}
}

// startNode enrolls a new device under account and serves a Node until the test ends.
func startNode(t testing.TB, d *testDirectory, account string, tune func(*Options)) *Node {
	t.Helper()
	dev, c := d.enroll(t, account, nil)
	return serveNode(t, c, dev, account, tune)
}

// enroll makes a new device enrolled under account (made at its first
// use) and its directory client, which sends through rt (nil: its own
// transport), as a test that watches or holds the device's requests does.
func (d *testDirectory) enroll(t testing.TB, account string, rt http.RoundTripper) (*identity.Identity, *directory.Client) {
	t.Helper()
	ctx := context.Background()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	o := directory.ClientOptions{URL: d.url, Fingerprint: d.ident.ID(), Device: dev, Logger: quiet}
	if rt != nil {
		o.HTTPClient = &http.Client{Transport: rt}
	}
	c, err := directory.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	if !d.accounts[account] {
		if err := c.CreateAccount(ctx, account, "correct horse battery"); err != nil {
			d.mu.Unlock()
			t.Fatal(err)
		}
		d.accounts[account] = true
	}
	d.mu.Unlock()
	if err := c.EnrollDevice(ctx, account, "correct horse battery", "dev-"+string(dev.ID().Short())); err != nil {
		t.Fatal(err)
	}
	return dev, c
}

// serveNode serves a Node of enrolled device dev (directory client c)
// until the test ends.
func serveNode(t testing.TB, c *directory.Client, dev *identity.Identity, account string, tune func(*Options)) *Node {
	t.Helper()
	ctx := context.Background()
	o := Options{DataDir: t.TempDir(), Identity: dev, Directory: c, Name: account + "-" + dev.ID().Short(),
		Account: account, Logger: quiet, AnnounceInterval: time.Second}
	if tune != nil {
		tune(&o)
	}
	n, err := NewNode(o)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Serve(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s: %v", n.ID().Short(), err)
		}
	})
	return n
}

func (n *Node) neighbour() Neighbour { return Neighbour{ID: n.ID(), Addrs: []string{n.Addr()}} }

// waitSupplier waits until the directory lists holder as a supplier of cid to asker.
func waitSupplier(t testing.TB, asker *Node, holder *Node, title *directory.Title) {
	t.Helper()
	holder.announceSoon()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sups, err := asker.dirClient().Suppliers(context.Background(), title.ContentID)
		if err == nil {
			for _, s := range sups {
				if s.Device == holder.ID() {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listed as a supplier", holder.ID().Short())
}

// readAll decrypts cid through the node.
func readAll(t testing.TB, n *Node, title *directory.Title) []byte {
	t.Helper()
	r, err := n.Open(context.Background(), title.ContentID)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// downloadedFrom sums n's ledger of bytes downloaded from device id.
func downloadedFrom(t testing.TB, n *Node, id identity.ID) int64 {
	t.Helper()
	es, err := n.lib.Ledger(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range es {
		if e.Direction == "down" {
			sum += e.Bytes
		}
	}
	return sum
}

var _ = peer.ProtoVersion

func libTitle(t *directory.Title) library.Title {
	return library.Title{ID: t.ID, Name: t.Name, Artist: t.Artist, MediaType: t.MediaType, ContentID: t.ContentID, Size: t.Size}
}

var dirLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

type libPolicy library.Policy

func (p libPolicy) p() library.Policy { return library.Policy(p) }
