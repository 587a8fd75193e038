package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
)

// TestNeighboursAddedByHand: a LAN whose router drops multicast (every
// host's interface has multicast switched off), so mDNS finds nobody. The
// household's device A adds B by the address B's status shows (`kithctl
// neighbours add IP:PORT`): B proves its key and the directory knows it,
// so A lists it "by hand", sees what it offers and copies a title from B
// alone (byte-identical to the origin's). A device the directory does not
// know (C, never signed in) is refused at its address. The neighbour is
// still there after A restarts, and `neighbours remove` forgets it. Real
// kith-directory and kithctl processes, each in its own namespace.
func TestNeighboursAddedByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the end-to-end run takes a minute (run without -short)")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	tmp := t.TempDir()
	say(t, "== neighbours added by hand: building kith-directory and kithctl")
	kd, kc := buildBinaries(t)
	lan := netns.New(t, 4)
	dirHost, hA, hB, hC := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2], lan.Hosts[3]
	ctx := context.Background()
	for _, h := range lan.Hosts {
		if out, err := h.Command(ctx, "ip", "link", "set", "dev", h.Iface, "multicast", "off").CombinedOutput(); err != nil {
			t.Fatalf("switching multicast off on %s: %v: %s", h.Name, err, out)
		}
	}

	dirData := filepath.Join(tmp, "directory")
	_, dirURL := startDirectory(t, dirHost, kd, dirData, filepath.Join(tmp, "directory.log"),
		"--name", "Hand test directory", "--announce-ttl", "30s")
	wav := filepath.Join(tmp, "low-hum.wav")
	writeTone(t, wav, 220, 3*time.Second)
	out, err := dirHost.Command(ctx, kd, "publish", wav, "--data", dirData, "--title", "Low Hum",
		"--artist", "Test Tones", "--price", "free", "--rights", "reshare").Output()
	if err != nil {
		t.Fatalf("publishing: %v", err)
	}
	var hum title
	if err := json.Unmarshal(out, &hum); err != nil {
		t.Fatalf("publish output %q: %v", out, err)
	}

	dev := func(name string, h netns.Host) *device {
		d := &device{t: t, name: name, host: h, data: filepath.Join(tmp, name), kithctl: kc, dirURL: dirURL}
		d.serve()
		return d
	}
	A, B := dev("A", hA), dev("B", hB)
	dev("C", hC) // serves, never signs in: the directory does not know it
	A.signup("home", "home-password")
	B.signin("home", "home-password")
	var rc receipt
	B.run(&rc, "buy", "Low Hum")
	if _, err := B.lines("fetch", "Low Hum"); err != nil {
		t.Fatal(err)
	}

	neighbours := func(d *device) []handNeighbour {
		t.Helper()
		var nbs []handNeighbour
		d.run(&nbs, "neighbours")
		return nbs
	}
	if nbs := neighbours(A); len(nbs) != 0 {
		t.Fatalf("A found %+v with multicast off", nbs)
	}
	eventually(t, 30*time.Second, "A's LAN discovery fails (no multicast)", func() error {
		b, err := os.ReadFile(A.data + ".log")
		if err != nil || !strings.Contains(string(b), `service="LAN discovery"`) {
			return fmt.Errorf("A's log says nothing of LAN discovery failing (%v)", err)
		}
		return nil
	})

	say(t, "== A adds C (never signed in: unknown to the directory) by its address: refused")
	cAddr := hC.IP.String() + ":7143"
	if err := A.try(nil, "neighbours", "add", cAddr); err == nil || !strings.Contains(err.Error(), "not enrolled with this device's directory") {
		t.Fatalf("adding C at %s: %v, want refused as not enrolled", cAddr, err)
	}

	say(t, "== A adds B by its address")
	bAddr := hB.IP.String() + ":7143"
	var added handNeighbour
	A.run(&added, "neighbours", "add", bAddr)
	if added.ID != B.id || !added.Hand || added.Name != "B" || len(added.Addrs) != 1 || added.Addrs[0] != bAddr {
		t.Fatalf("added %+v, want B (%s) by hand at %s", added, B.id, bAddr)
	}
	listed := func(when string) {
		t.Helper()
		nbs := neighbours(A)
		if len(nbs) != 1 || nbs[0].ID != B.id || !nbs[0].Hand || nbs[0].LAN {
			t.Fatalf("%s: A lists %+v, want B added by hand", when, nbs)
		}
		if txt, err := A.human("neighbours"); err != nil || !strings.Contains(txt, "by hand") || !strings.Contains(txt, bAddr) {
			t.Fatalf("%s: kithctl neighbours printed %q (%v)", when, txt, err)
		}
	}
	listed("after adding")
	var offers []offer
	A.run(&offers, "offers", "B")
	if len(offers) != 1 || offers[0].TitleID != hum.ID {
		t.Fatalf("B offers %+v to A, want Low Hum (%s)", offers, hum.ID)
	}
	ls, err := A.lines("fetch", "Low Hum", "--from", B.id)
	if err != nil {
		t.Fatal(err)
	}
	if src := lastSources(ls); src[B.id] == 0 || len(src) != 1 {
		t.Fatalf("A's download sources %v, want B only", src)
	}
	if fileHash(t, A.sealedPath(hum.Content)) != fileHash(t, filepath.Join(dirData, "origin", hum.Content)) {
		t.Fatal("A's copy from B differs from the origin's ciphertext")
	}

	say(t, "== A restarts: B is still its neighbour; then A forgets it")
	if err := A.proc.stop(); err != nil {
		t.Fatalf("A stopping: %v", err)
	}
	A.serve()
	listed("after A restarted")
	A.run(nil, "neighbours", "remove", bAddr)
	if nbs := neighbours(A); len(nbs) != 0 {
		t.Fatalf("after removing: %+v", nbs)
	}
	if err := A.try(nil, "neighbours", "remove", bAddr); err == nil || !strings.Contains(err.Error(), "no neighbour added by hand") {
		t.Fatalf("removing again: %v", err)
	}
}

// handNeighbour is `kithctl --json neighbours`' row (share.Neighbour).
type handNeighbour struct {
	ID    string   `json:"ID"`
	Name  string   `json:"Name"`
	Addrs []string `json:"Addrs"`
	LAN   bool     `json:"LAN"`
	Hand  bool     `json:"Hand"`
}
