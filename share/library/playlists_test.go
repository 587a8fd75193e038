package library

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPlaylists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	id, err := l.CreatePlaylist(ctx, "  Kitchen  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreatePlaylist(ctx, strings.Repeat("x", MaxPlaylistName+1)); err == nil {
		t.Error("over-long name accepted")
	}
	if err := l.SetPlaylistItems(ctx, id, []string{"t1", "t2", "t3"}); err != nil {
		t.Fatal(err)
	}
	// Reorder and remove: one replace.
	if err := l.SetPlaylistItems(ctx, id, []string{"t3", "t1"}); err != nil {
		t.Fatal(err)
	}
	if err := l.RenamePlaylist(ctx, id, "Sunday"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLib(t, dir) // kept in the device's index
	ps, err := l.Playlists(ctx)
	if err != nil || len(ps) != 1 || ps[0].Name != "Sunday" || ps[0].Count != 2 {
		t.Fatalf("playlists %+v, %v", ps, err)
	}
	items, err := l.PlaylistItems(ctx, id)
	if err != nil || strings.Join(items, ",") != "t3,t1" {
		t.Errorf("items %v, %v", items, err)
	}
	if err := l.SetPlaylistItems(ctx, id, make([]string, MaxPlaylistItems+1)); err == nil {
		t.Error("over-long playlist accepted")
	}
	if err := l.DeletePlaylist(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := l.SetPlaylistItems(ctx, id, []string{"t1"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("items of a deleted playlist: %v", err)
	}
	if items, _ := l.PlaylistItems(ctx, id); len(items) != 0 {
		t.Errorf("deleted playlist kept %v", items)
	}
}
