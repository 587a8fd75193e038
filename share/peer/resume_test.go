package peer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// throttled slows a source down so a test can kill the downloader mid-way.
type throttled struct {
	Source
	d time.Duration
}

func (s throttled) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	time.Sleep(s.d)
	return s.Source.Chunk(ctx, i, dst)
}

// TestChildFetch is the child process of TestKillResume; it does nothing
// unless KITH_CHILD_FETCH is set.
func TestChildFetch(t *testing.T) {
	dir := os.Getenv("KITH_CHILD_FETCH")
	if dir == "" {
		t.Skip("child process of TestKillResume")
	}
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sealed.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	self, _, err := identity.LoadOrCreate(filepath.Join(dir, "device.key"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := library.Open(filepath.Join(dir, "lib"), library.Options{Logger: quiet, SyncBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(self, identity.ID(os.Getenv("KITH_CHILD_PEER")), []string{os.Getenv("KITH_CHILD_ADDR")}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, _ := time.ParseDuration(os.Getenv("KITH_CHILD_THROTTLE"))
	got := 0
	f, _ := NewFetcher(FetchOptions{Manifest: m, Sink: lib, Sources: []Source{throttled{c.Source(m), d}}, PerSource: 2, Logger: quiet,
		OnEvent: func(e Event) {
			if e.Kind == EventChunk {
				got++
				fmt.Printf("chunk %d\n", e.Chunk)
			}
		}})
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("done %d\n", got)
	lib.Close()
}

// TestKillResume kills (SIGKILL) a process in the middle of a download,
// damages one chunk it had stored, restarts it, and checks the download
// resumes (fetching only what is missing or damaged) and completes intact.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	c := makeContent(t, 8<<20, 32<<10, 20)
	a := newIdent(t)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	dir := t.TempDir()
	raw, _ := c.m.MarshalBinary()
	os.WriteFile(filepath.Join(dir, "manifest"), raw, 0o600)
	child := func(throttle string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildFetch$", "-test.v")
		cmd.Env = append(os.Environ(), "KITH_CHILD_FETCH="+dir, "KITH_CHILD_PEER="+string(a.ID()),
			"KITH_CHILD_ADDR="+addr, "KITH_CHILD_THROTTLE="+throttle)
		return cmd
	}
	n := c.m.NumChunks()

	first := child("10ms")
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	seen := 0
	for sc.Scan() && seen < n/3 {
		if strings.HasPrefix(sc.Text(), "chunk ") {
			seen++
		}
	}
	first.Process.Kill() // SIGKILL: no deferred cleanup, no flush
	first.Wait()
	if seen < n/3 {
		t.Fatalf("child stopped after %d chunks", seen)
	}

	// Damage one chunk the child had written.
	part := filepath.Join(dir, "lib", "content", c.m.ContentID().String()+".part")
	pf, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	damaged := -1
	for i := 0; i < n && damaged < 0; i++ {
		off, size := c.m.ChunkRange(i)
		buf := make([]byte, size)
		pf.ReadAt(buf, off)
		if c.m.VerifyChunk(i, buf) == nil {
			pf.WriteAt([]byte{buf[0] ^ 0xff}, off)
			damaged = i
		}
	}
	pf.Close()
	if damaged < 0 {
		t.Fatal("no complete chunk in the partial file")
	}

	second := child("0s")
	var stdout bytes.Buffer
	second.Stdout, second.Stderr = &stdout, os.Stderr
	if err := second.Run(); err != nil {
		t.Fatalf("restarted child: %v\n%s", err, stdout.String())
	}
	var again int
	refetched := false
	for _, line := range strings.Split(stdout.String(), "\n") {
		fmt.Sscanf(line, "done %d", &again)
		if line == fmt.Sprintf("chunk %d", damaged) {
			refetched = true
		}
	}
	t.Logf("killed after %d chunks seen; the restart fetched %d of %d", seen, again, n)
	if again == 0 || again > n-seen+1 {
		t.Errorf("restart fetched %d chunks, want at most %d (resume)", again, n-seen+1)
	}
	if !refetched {
		t.Errorf("damaged chunk %d was not fetched again", damaged)
	}
	got, err := os.ReadFile(filepath.Join(dir, "lib", "content", c.m.ContentID().String()+".sealed"))
	if err != nil || !bytes.Equal(got, c.file) {
		t.Fatalf("final file differs from the original (%v)", err)
	}
}
