package share

import (
	"context"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// TestSecurityNeighbourAddedByHandRevoked: a device of the household that
// was revoked, still serving with its key at its address, is not added by
// hand: it proves its key, but the directory says it is revoked.
func TestSecurityNeighbourAddedByHandRevoked(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	asker := startNode(t, d, "alice", nil)
	lost, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	lc := d.client(t, lost)
	if err := lc.EnrollDevice(ctx, "alice", "correct horse battery", "lost phone"); err != nil {
		t.Fatal(err)
	}
	phone := serveNode(t, lc, lost, "", nil)
	if err := asker.dirClient().RevokeDevice(ctx, lost.ID()); err != nil {
		t.Fatal(err)
	}
	nb, err := asker.AddNeighbour(ctx, phone.Addr())
	if err == nil {
		t.Fatalf("a revoked device added by hand: %+v", nb)
	}
	t.Logf("refused: %v", err)
	if ns := asker.Neighbours(); len(ns) != 0 {
		t.Fatalf("listed after the refusal: %+v", ns)
	}
	if hs, err := asker.Library().HandNeighbours(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("stored after the refusal: %+v, %v", hs, err)
	}
}
