package library

import (
	"context"
	"testing"
	"time"
)

// TestListingsLive: while a download's chunks wait for their batch's fsync
// (and so are not yet recorded in the index), the listings count them,
// and a sealed download is listed complete.
func TestListingsLive(t *testing.T) {
	ctx := context.Background()
	l, err := Open(t.TempDir(), Options{SyncBytes: 1 << 40, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file, m, _, _ := sealedFile(t, 10*4096, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	for i := range 3 {
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(have int, complete bool) {
		t.Helper()
		hs, err := l.Holdings(ctx)
		if err != nil || len(hs) != 1 || hs[0].Have != have || hs[0].Complete != complete {
			t.Fatalf("Holdings = %+v, %v; want have %d complete %v", hs, err, have, complete)
		}
		held, err := l.HeldContent(ctx)
		if err != nil || len(held) != 1 || held[0].Have != have || held[0].Complete != complete {
			t.Fatalf("HeldContent = %+v, %v; want have %d complete %v", held, err, have, complete)
		}
	}
	check(3, false)
	for i := 3; i < m.NumChunks(); i++ {
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
	}
	check(m.NumChunks(), true)
}
