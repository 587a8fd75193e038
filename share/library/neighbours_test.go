package library

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// TestHandNeighbours: neighbours added by hand are kept across a reopen,
// one per address (adding an address again replaces its device), removed
// by address or device ID, bounded in number and size.
func TestHandNeighbours(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	a, _ := identity.Generate()
	b, _ := identity.Generate()
	for _, h := range []HandNeighbour{
		{Addr: "192.168.1.20:7143", Device: a.ID(), Name: "attic"},
		{Addr: "study.lan:7143", Device: a.ID(), Name: "attic"},
		{Addr: "192.168.1.20:7143", Device: b.ID(), Name: "study"}, // the address now answers as b
	} {
		if err := l.AddHandNeighbour(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []HandNeighbour{
		{Addr: "", Device: a.ID()},
		{Addr: strings.Repeat("x", MaxHandNeighbourAdr+1), Device: a.ID()},
		{Addr: "h:1", Device: "not-an-id"},
		{Addr: "h:1", Device: a.ID(), Name: strings.Repeat("n", maxHandName+1)},
		{Addr: "h\xff:1", Device: a.ID()},
	} {
		if err := l.AddHandNeighbour(ctx, bad); err == nil {
			t.Errorf("adding %+v accepted", bad)
		}
	}
	l.Close()
	l = openLib(t, dir)
	got, err := l.HandNeighbours(ctx)
	if err != nil || len(got) != 2 || got[0].Addr != "192.168.1.20:7143" || got[0].Device != b.ID() || got[0].Name != "study" ||
		got[1].Addr != "study.lan:7143" || got[1].Device != a.ID() || got[1].Added.IsZero() {
		t.Fatalf("after a reopen: %+v (%v)", got, err)
	}
	if removed, err := l.RemoveHandNeighbour(ctx, string(a.ID())); err != nil || !removed {
		t.Fatalf("removing by ID: %v %v", removed, err)
	}
	if removed, err := l.RemoveHandNeighbour(ctx, "192.168.1.20:7143"); err != nil || !removed {
		t.Fatalf("removing by address: %v %v", removed, err)
	}
	if removed, err := l.RemoveHandNeighbour(ctx, "192.168.1.20:7143"); err != nil || removed {
		t.Fatalf("removing again: %v %v, want nothing removed", removed, err)
	}
	for i := range MaxHandNeighbours {
		if err := l.AddHandNeighbour(ctx, HandNeighbour{Addr: fmt.Sprintf("10.0.0.%d:7143", i), Device: a.ID()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AddHandNeighbour(ctx, HandNeighbour{Addr: "10.0.1.1:7143", Device: a.ID()}); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("neighbour %d: %v, want refused", MaxHandNeighbours+1, err)
	}
	if err := l.AddHandNeighbour(ctx, HandNeighbour{Addr: "10.0.0.0:7143", Device: b.ID()}); err != nil {
		t.Errorf("adding a stored address again at the bound: %v", err)
	}
	if got, _ := l.HandNeighbours(ctx); len(got) != MaxHandNeighbours {
		t.Errorf("%d listed at the bound", len(got))
	}
}
