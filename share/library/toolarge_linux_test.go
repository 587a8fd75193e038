package library

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kith-media/kith/share/sealed"
)

// ext2Disk mounts, for the test, a real 16 MiB file system without
// fallocate whose largest file is smaller than a big title's: ext2 with
// 1 KiB blocks (about 16 GiB) on a loop device, as a FAT32 data folder's
// is 4 GiB (this kernel has no vfat to mount). Root, mkfs.ext2 and loop
// devices only: skipped with the reason otherwise.
func ext2Disk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a file system image needs root")
	}
	img, dir := filepath.Join(t.TempDir(), "ext2.img"), t.TempDir()
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext2", "-q", "-b", "1024", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("making an ext2 image: %v %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("mounting an ext2 image: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// A title larger than the data folder's file system can hold (EFBIG at
// the reservation, real, from ext2's own limit) is refused when its
// download starts, in a person's words that say freeing space would not
// help, and leaves neither file nor row; a file of the household's own as
// large is refused the same before sealing. Without TooLarge it was
// "preallocating …: file too large", and the download's row stayed.
func TestFileTooLargeRefusedAtStart(t *testing.T) {
	ctx := context.Background()
	dir := ext2Disk(t)
	l := openLib(t, dir)
	content := filepath.Join(dir, "content")

	file, small, _, _ := sealedFile(t, 64<<10, 64<<10)
	big := unfetched(t, small, sealed.MaxChunkSize, 17<<30)
	err := l.AddManifest(ctx, big)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || !ns.TooLarge || !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("adding a 17 GiB download on ext2 with 1 KiB blocks: %v; want a NoSpaceError, TooLarge", err)
	}
	want := "this title is 17.0 GiB, larger than the file system of " + content + " can hold; use another data folder (--data)"
	if ns.UserText() != want {
		t.Fatalf("the refusal says %q; want %q", ns.UserText(), want)
	}
	leftNothing(t, l, content, big)

	if f, err := l.CreateSealTemp(big.FileSize()); !errors.As(err, &ns) || !ns.TooLarge || !ns.Adding {
		if f != nil {
			f.Close()
		}
		t.Fatalf("a 17 GiB file of our own to seal: %v; want a NoSpaceError, TooLarge, Adding", err)
	}
	leftNothing(t, l, content, big)
	fetchedWhole(t, l, small, file)
}

// unfetched is a manifest like like's but of length bytes in chunks of
// size chunk, with hashes no file has: a title that is only ever refused.
func unfetched(t *testing.T, like *sealed.Manifest, chunk uint32, length uint64) *sealed.Manifest {
	t.Helper()
	m := &sealed.Manifest{Header: like.Header}
	m.Header.ChunkSize, m.Header.Length = chunk, length
	m.Chunks = make([][32]byte, m.NumChunks())
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// The words for a FAT32 data folder (vfat's magic in statfs) name its
// 4 GiB limit; for a file being added, the file.
func TestFileTooLargeWords(t *testing.T) {
	e := &NoSpaceError{Dir: "/media/usb/kith/content", Need: 5 << 30, Free: -1, TooLarge: true, Max: 1<<32 - 1}
	if got, want := e.UserText(), "this title is 5.0 GiB, larger than the 4.0 GiB the file system of /media/usb/kith/content can hold; use another data folder (--data)"; got != want {
		t.Errorf("download: %q; want %q", got, want)
	}
	e.Adding, e.File = true, "Holiday 2026.mkv"
	if got := e.UserText(); !strings.HasPrefix(got, `adding "Holiday 2026.mkv" needs a file of 5.0 GiB, larger than the 4.0 GiB`) {
		t.Errorf("adding: %q", got)
	}
}

// On a file system without fallocate (ext2) a download larger than the
// free space is refused at its start as on any other (NoSpaceError, with
// the space free), and leaves nothing; one that fits completes. Before
// sparse, the file was made sparse whatever the free space, and the disk
// filling was told by a chunk's write halfway through.
func TestFullDiskWithoutFallocateRefusedAtStart(t *testing.T) {
	ctx := context.Background()
	dir := ext2Disk(t)
	l := openLib(t, dir)
	content := filepath.Join(dir, "content")

	file, small, _, _ := sealedFile(t, 1<<20, 64<<10)
	big := unfetched(t, small, small.Header.ChunkSize, 20<<20)
	err := l.AddManifest(ctx, big)
	var ns *NoSpaceError
	if !errors.As(err, &ns) || ns.TooLarge || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("adding a 20 MiB download on a 16 MiB ext2: %v; want a NoSpaceError", err)
	}
	if ns.Dir != content || ns.Need != big.FileSize() || ns.Free < 0 || ns.Free >= ns.Need {
		t.Fatalf("NoSpaceError %+v; want Dir %s, Need %d, 0 <= Free < Need", ns, content, big.FileSize())
	}
	leftNothing(t, l, content, big)
	fetchedWhole(t, l, small, file)
}
