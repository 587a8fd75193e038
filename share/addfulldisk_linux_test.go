package share

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/kith-media/kith/share/library"
	"golang.org/x/sys/unix"
)

// countPublish counts the device's publish requests to the directory
// (sent on through rt, as announceGate does).
type countPublish struct {
	rt http.RoundTripper
	n  atomic.Int32
}

func (c *countPublish) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "publish") {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// Adding a household's own file on a disk that cannot hold its sealed copy
// is the library's NoSpaceError through Node.AddFile, before it is sealed
// or published: nothing is sent to publish and no partial file is left.
// With room made, the same file is added and published.
func TestAddFullDiskRefusedBeforeSealing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	ctx := context.Background()
	d := startPublishingDirectory(t, nil)
	pubs := countPublish{rt: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	dev, c := d.enroll(t, "home", &pubs)
	data := t.TempDir()
	n := serveNode(t, c, dev, "home", func(o *Options) { o.DataDir = data })
	song := encodeMP3(t, t.TempDir(), "song.mp3", "Long Song", "Full Disk", 1, "20")
	st, err := os.Stat(song)
	if err != nil {
		t.Fatal(err)
	}
	// The library's content folder on a disk smaller than the song.
	content := filepath.Join(data, "content")
	if err := unix.Mount("tmpfs", content, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Skipf("mounting a small tmpfs: %v", err)
	}
	mounted := true
	unmount := func() {
		if mounted {
			if err := unix.Unmount(content, unix.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", content, err)
			}
			mounted = false
		}
	}
	t.Cleanup(unmount)
	if st.Size() <= 64<<10 {
		t.Fatalf("the song is %d bytes: fits the 64 KiB disk", st.Size())
	}

	_, err = n.AddFile(ctx, song, AddOptions{})
	var ns *library.NoSpaceError
	if !errors.As(err, &ns) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("adding a %d-byte song on a 64 KiB disk: %v; want a NoSpaceError", st.Size(), err)
	}
	if !ns.Adding || ns.Need <= st.Size() || !strings.Contains(ns.UserText(), fmt.Sprintf("for adding %q:", filepath.Base(song))) {
		t.Fatalf("NoSpaceError %+v (%q); want one for adding the song, by its name, of its sealed size", ns, ns.UserText())
	}
	if k := pubs.n.Load(); k != 0 {
		t.Fatalf("%d publish requests for a file refused for space; want none", k)
	}
	if left, err := os.ReadDir(content); err != nil || len(left) != 0 {
		t.Fatalf("content folder after the refusal: %v, %v; want empty", left, err)
	}

	unmount()
	if _, err := n.AddFile(ctx, song, AddOptions{}); err != nil {
		t.Fatalf("adding the song with room: %v", err)
	}
	if pubs.n.Load() == 0 {
		t.Fatal("the song added with room was not published")
	}
}
