package library

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kith-media/kith/share/sealed"
	"golang.org/x/sys/unix"
)

// smallDisk mounts a tmpfs of size bytes for the test (root only: skipped
// with the reason otherwise) and returns its folder.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("mounting a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// A download bigger than the disk's free space is refused when it starts,
// with the words a person needs, and leaves the library as it was; a
// download that fits on the same disk still completes.
func TestFullDiskRefusedAtStart(t *testing.T) {
	ctx := context.Background()
	dir := smallDisk(t, "3m")
	l := openLib(t, dir)

	_, big, _, _ := sealedFile(t, 4<<20, 64<<10)
	err := l.AddManifest(ctx, big)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("adding a 4 MiB download on a 3 MiB disk: %v; want a NoSpaceError", err)
	}
	content := filepath.Join(dir, "content")
	if ns.Dir != content || ns.Need != big.FileSize() || ns.Free < 0 || ns.Free >= ns.Need {
		t.Fatalf("NoSpaceError %+v; want Dir %s, Need %d, 0 <= Free < Need", ns, content, big.FileSize())
	}
	for _, w := range []string{"not enough disk space", "4.0 MiB", content, "free"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	leftNothing(t, l, content, big)
	file, small, _, _ := sealedFile(t, 1<<20, 64<<10)
	fetchedWhole(t, l, small, file)
}

// leftNothing fails the test unless a download of m refused at its start
// left the library as it was: no file in content, no row.
func leftNothing(t *testing.T, l *Library, content string, m *sealed.Manifest) {
	t.Helper()
	if left, err := os.ReadDir(content); err != nil || len(left) != 0 {
		t.Fatalf("content folder after the refusal: %v, %v; want empty", left, err)
	}
	if _, err := l.Manifest(context.Background(), m.ContentID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused download's row: %v; want ErrNotFound (library as it was)", err)
	}
}

// fetchedWhole adds m and writes every chunk of file as a download would,
// failing the test unless it ends complete (a download that fits the disk).
func fetchedWhole(t *testing.T, l *Library, m *sealed.Manifest, file []byte) {
	t.Helper()
	if err := l.AddManifest(context.Background(), m); err != nil {
		t.Fatalf("a download that fits the disk: %v", err)
	}
	for i := range m.NumChunks() {
		if err := l.WriteChunk(m.ContentID(), i, chunkOf(m, file, i)); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if st, err := l.Status(context.Background(), m.ContentID()); err != nil || !st.Complete {
		t.Fatalf("the download that fits: %+v, %v; want complete", st, err)
	}
}

// A resumed download whose file is sparse (written before reserve existed)
// on a disk that filled since still opens: the chunks it holds stay held
// and are served, and the refusal loses nothing.
func TestFullDiskKeepsResumedChunks(t *testing.T) {
	ctx := context.Background()
	dir := smallDisk(t, "3m")
	file, m, _, _ := sealedFile(t, 2<<20, 64<<10)
	cid := m.ContentID()
	part := leavePartial(t, dir, file, m, 4)
	// Make the .part sparse beyond its first chunks, as an older version
	// left it, and fill the disk meanwhile.
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := m.ChunkRange(4)
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, m.FileSize()-off); err != nil {
		t.Skipf("punching a hole: %v", err)
	}
	f.Close()
	var fs unix.Statfs_t // leave the index room to open, not the file's holes
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, free-512<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	l := openLib(t, dir)
	st, err := l.Status(ctx, cid)
	if err != nil || st.Have != 4 {
		t.Fatalf("resuming on a full disk: %+v, %v; want the 4 chunks held before", st, err)
	}
	for i := range 4 {
		if _, err := l.ReadChunk(ctx, cid, i, nil, true); err != nil {
			t.Fatalf("serving held chunk %d on a full disk: %v", i, err)
		}
	}
}

// Adding a file of the household's own takes its sealed size up front, as
// a download does: a disk that cannot hold it is a NoSpaceError that says
// it is about adding, and nothing is left in the content folder; a file
// that fits gets a temp file of exactly that size to seal into.
func TestFullDiskRefusesAdding(t *testing.T) {
	dir := smallDisk(t, "3m")
	l := openLib(t, dir)
	content := filepath.Join(dir, "content")

	_, err := l.CreateSealTemp(4 << 20)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || !ns.Adding || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("sealing 4 MiB on a 3 MiB disk: %v; want a NoSpaceError for adding", err)
	}
	for _, w := range []string{"not enough disk space for adding this file", "4.0 MiB", content} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if left, err := os.ReadDir(content); err != nil || len(left) != 0 {
		t.Fatalf("content folder after the refusal: %v, %v; want empty", left, err)
	}

	f, err := l.CreateSealTemp(1 << 20)
	if err != nil {
		t.Fatalf("sealing 1 MiB on the same disk: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	st, err := f.Stat()
	if off, serr := f.Seek(0, 1); err != nil || serr != nil || st.Size() != 1<<20 || off != 0 {
		t.Fatalf("temp file: %v, %v, offset %d; want 1 MiB long, written from its start", st, err, off)
	}
}
