package library

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// A new download's start records its manifest and nothing more: the
// bitmap of a new file is the empty one the manifest's row holds already.
func TestNewDownloadWritesItsRowOnce(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m, _, _ := sealedFile(t, 50_000, 4096)
	before := totalChanges(t, l)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := totalChanges(t, l) - before; got != 1 {
		t.Fatalf("starting a download changed %d rows; want 1 (its content row)", got)
	}
}

// The header of a partial file is written at every open, so a crash that
// kept the file's size but lost its header (nothing made it durable before
// the first chunk's fsync) still ends in a whole sealed file.
func TestHeaderWrittenAgainOnReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	file, m, _, _ := sealedFile(t, 60_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The header lost, the size kept.
	hdr := m.HeaderBytes()
	f, err := os.OpenFile(l.partPath(cid), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, len(hdr)), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l = openLib(t, dir)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	for i := range m.NumChunks() {
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	got, err := os.ReadFile(l.sealedPath(cid))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, file) {
		t.Fatalf("sealed file differs from the original (header %x, want %x)", got[:min(len(got), 16)], hdr[:16])
	}
}
