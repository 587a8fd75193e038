//go:build unix

package library

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/kith-media/kith/share/sealed"
)

// TestKillMidDownloadLosesNoChunk: a process killed (SIGKILL) in the middle
// of a download, with chunks written but not yet fsynced nor recorded in
// the index (the default SyncBytes and SyncInterval), loses none of them:
// the library opened again re-hashes the partial file and finds every
// chunk whose WriteChunk returned, and the download completes from there.
// The child is this test binary run again (killChild), writing the chunks
// of a title the parent sealed and reporting each one stored.
func TestKillMidDownloadLosesNoChunk(t *testing.T) {
	if os.Getenv("KITH_LIBRARY_KILL_CHILD") != "" {
		killChild(t)
		return
	}
	dir := t.TempDir()
	file, m, _, _ := sealedFile(t, 48*4096, 4096)
	raw, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "title.sealed"), file, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "title.manifest"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillMidDownloadLosesNoChunk$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KITH_LIBRARY_KILL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	hold, err := cmd.StdinPipe() // the child waits on it to be killed
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const kill = 30 // chunks stored before the kill
	stored := map[int]bool{}
	sc := bufio.NewScanner(out)
	for len(stored) < kill && sc.Scan() {
		var i int
		if _, err := fmt.Sscanf(sc.Text(), "stored %d", &i); err == nil {
			stored[i] = true
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(stored) < kill {
		t.Fatalf("the child stored %d chunks before it ended, want %d", len(stored), kill)
	}

	ctx := context.Background()
	l := openLib(t, filepath.Join(dir, "lib"))
	cid := m.ContentID()
	have, err := l.Have(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stored {
		if !have.Has(i) {
			t.Errorf("chunk %d, stored before the kill, lost", i)
		}
	}
	for i := range m.NumChunks() {
		if !have.Has(i) {
			if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st, err := l.Status(ctx, cid); err != nil || !st.Complete {
		t.Fatalf("after the kill, not complete: %+v %v", st, err)
	}
}

// killChild is the process TestKillMidDownloadLosesNoChunk kills: it
// stores the title's chunks one by one with the library's default
// durability, says so on stdout after each, and once it has stored all
// but the last (the last would seal the file) waits on stdin to be killed.
func killChild(t *testing.T) {
	dir := os.Getenv("KITH_LIBRARY_KILL_CHILD")
	file, err := os.ReadFile(filepath.Join(dir, "title.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "title.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sealed.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(filepath.Join(dir, "lib"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddManifest(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for i := range m.NumChunks() - 1 {
		if err := l.WriteChunk(m.ContentID(), i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("stored " + strconv.Itoa(i) + "\n")
	}
	io.Copy(io.Discard, os.Stdin) // killed here (or before): the parent holds stdin open
}
