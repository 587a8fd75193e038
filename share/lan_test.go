package share

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestLANHelper is the child process of TestLANNeighbours (a directory or a
// node inside a network namespace); it does nothing unless KITH_LAN_ROLE is set.
func TestLANHelper(t *testing.T) {
	role := os.Getenv("KITH_LAN_ROLE")
	if role == "" {
		t.Skip("child process of TestLANNeighbours")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	if role == "directory" {
		err = lanDirectory(ctx)
	} else {
		err = lanNode(ctx, role)
	}
	if err != nil {
		fmt.Println("error", err)
		t.Fatal(err)
	}
}

func lanDirectory(ctx context.Context) error {
	dir := os.Getenv("KITH_LAN_DATA")
	ident, err := identity.Generate()
	if err != nil {
		return err
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "dir.db"), sqlitestore.Options{})
	if err != nil {
		return err
	}
	origin := filepath.Join(dir, "origin")
	plain := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{1}).Read(plain)
	title, err := directory.Publish(ctx, st, ident, origin, bytes.NewReader(plain), directory.PublishOptions{Name: "LAN Song", MediaType: "audio/mpeg"})
	if err != nil {
		return err
	}
	srv, err := directory.NewServer(directory.Options{Identity: ident, Store: st, OriginDir: origin, Logger: quiet, RateIP: -1, RateDevice: -1})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", os.Getenv("KITH_LAN_LISTEN"))
	if err != nil {
		return err
	}
	fmt.Printf("directory %s %s %s\n", directory.FormatURL("https://"+ln.Addr().String(), ident.ID()), title.ID, title.ContentID)
	return srv.Serve(ctx, ln)
}

func lanNode(ctx context.Context, role string) error {
	base, fp, err := directory.ParseURL(os.Getenv("KITH_LAN_DIR"))
	if err != nil {
		return err
	}
	cid, err := sealed.ParseContentID(os.Getenv("KITH_LAN_CID"))
	if err != nil {
		return err
	}
	dev, err := identity.Generate()
	if err != nil {
		return err
	}
	dc, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: dev, Logger: quiet})
	if err != nil {
		return err
	}
	if err := dc.CreateAccount(ctx, role, "correct horse battery"); err != nil {
		return err
	}
	if err := dc.EnrollDevice(ctx, role, "correct horse battery", role); err != nil {
		return err
	}
	n, err := NewNode(Options{DataDir: os.Getenv("KITH_LAN_DATA"), Identity: dev, Directory: dc, ListenAddr: os.Getenv("KITH_LAN_LISTEN"),
		Name: role, Account: role, LAN: true, LANInterfaces: []string{netns.Iface}, LANIPv4Only: true, Logger: quiet})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Serve(sctx) }()
	defer func() { stop(); <-done }()
	if role == "seed" {
		if err := n.Fetch(ctx, cid); err != nil { // from the origin
			return err
		}
		fmt.Println("ready", n.ID())
		<-ctx.Done()
		return nil
	}
	t0 := time.Now()
	want := identity.ID(os.Getenv("KITH_LAN_SEED"))
	var nb *Neighbour
	for nb == nil {
		for _, x := range n.Neighbours() {
			if x.ID == want && x.LAN {
				nb = &x
			}
		}
		if nb == nil {
			select {
			case <-ctx.Done():
				return errors.New("seed never seen on the LAN")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	fmt.Printf("found %s at %v after %v\n", nb.ID.Short(), nb.Addrs, time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	if err := n.Fetch(ctx, cid, *nb); err != nil { // ciphertext from the neighbour, no license
		return err
	}
	fmt.Printf("fetched %d bytes from the neighbour in %v\n", downloadedFromNB(n, nb.ID), time.Since(t1).Round(time.Millisecond))
	return nil
}

func downloadedFromNB(n *Node, id identity.ID) int64 {
	es, _ := n.lib.Ledger(context.Background(), id, 10)
	var sum int64
	for _, e := range es {
		sum += e.Bytes
	}
	return sum
}

// TestLANNeighbours runs a directory and two nodes on three hosts of a
// bridged LAN of network namespaces: the leech finds the seed by mDNS
// (real multicast over veth) and copies the ciphertext from it.
func TestLANNeighbours(t *testing.T) {
	if testing.Short() {
		t.Skip("builds network namespaces")
	}
	lan := netns.New(t, 3) // skips with the reason when namespaces are unavailable
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := func(h netns.Host, env ...string) (*exec.Cmd, *bufio.Scanner) {
		cmd := h.Command(ctx, os.Args[0], "-test.run=^TestLANHelper$", "-test.v")
		cmd.Env = append(os.Environ(), append(env, "KITH_LAN_DATA="+t.TempDir())...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, bufio.NewScanner(out)
	}
	expect := func(sc *bufio.Scanner, prefix string) []string {
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatal(line)
			}
			if strings.HasPrefix(line, prefix) {
				return strings.Fields(line)
			}
		}
		t.Fatalf("child ended before %q: %v", prefix, sc.Err())
		return nil
	}
	dirHost, seedHost, leechHost := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2]
	_, dsc := start(dirHost, "KITH_LAN_ROLE=directory", "KITH_LAN_LISTEN="+dirHost.IP.String()+":7300")
	d := expect(dsc, "directory ")
	dirURL, cid := d[1], d[3]
	_, ssc := start(seedHost, "KITH_LAN_ROLE=seed", "KITH_LAN_DIR="+dirURL, "KITH_LAN_CID="+cid,
		"KITH_LAN_LISTEN="+seedHost.IP.String()+":7143")
	seedID := expect(ssc, "ready ")[1]
	leech, lsc := start(leechHost, "KITH_LAN_ROLE=leech", "KITH_LAN_DIR="+dirURL, "KITH_LAN_CID="+cid,
		"KITH_LAN_LISTEN="+leechHost.IP.String()+":7143", "KITH_LAN_SEED="+seedID)
	t.Log(strings.Join(expect(lsc, "found "), " "))
	got := expect(lsc, "fetched ")
	t.Log(strings.Join(got, " "))
	if got[1] == "0" {
		t.Fatal("nothing came from the neighbour")
	}
	io.Copy(io.Discard, leechOut(lsc)) // read to the end before Wait
	if err := leech.Wait(); err != nil {
		t.Fatalf("leech: %v", err)
	}
}

// leechOut drains the rest of a child's output.
func leechOut(sc *bufio.Scanner) io.Reader {
	var b bytes.Buffer
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return &b
}
