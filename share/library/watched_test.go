package library

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestWatchedFolders: folders are kept across a reopen, cleaned and
// de-duplicated; relative, over-long and the 101st are refused.
func TestWatchedFolders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	for _, p := range []string{"/home/ana/Music/", "/media/usb/Songs", "/home/ana/Music"} {
		if err := l.WatchFolder(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"Music", "", "/" + strings.Repeat("x", MaxWatchedPath), "/bad\xff"} {
		if err := l.WatchFolder(ctx, bad); err == nil {
			t.Errorf("watching %q accepted", bad)
		}
	}
	l.Close()
	l = openLib(t, dir)
	got, err := l.WatchedFolders(ctx)
	if want := []string{"/home/ana/Music", "/media/usb/Songs"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("watched %v (%v), want %v", got, err, want)
	}
	if err := l.UnwatchFolder(ctx, "/media/usb/Songs/"); err != nil {
		t.Fatal(err)
	}
	for i := range MaxWatchedFolders - 1 {
		if err := l.WatchFolder(ctx, fmt.Sprintf("/f/%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WatchFolder(ctx, "/one/too/many"); err == nil {
		t.Error("folder 101 accepted")
	}
	if err := l.WatchFolder(ctx, "/home/ana/Music"); err != nil {
		t.Errorf("watching a watched folder again at the bound: %v", err)
	}
	if got, _ := l.WatchedFolders(ctx); len(got) != MaxWatchedFolders || slices.Contains(got, "/media/usb/Songs") {
		t.Errorf("%d watched after unwatching one and filling up", len(got))
	}
}
