package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// In-memory playlists for fakeMedia.
type fakePlaylists struct {
	next  int64
	lists []Playlist
	items map[int64][]string
}

func (m *fakeMedia) Playlists(context.Context) ([]Playlist, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Playlist(nil), m.pl.lists...)
	for i := range out {
		out[i].Count = len(m.pl.items[out[i].ID])
	}
	return out, nil
}

func (m *fakeMedia) CreatePlaylist(_ context.Context, name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if name == "" {
		return 0, errors.New("playlist name must be 1 to 200 characters")
	}
	m.pl.next++
	m.pl.lists = append(m.pl.lists, Playlist{ID: m.pl.next, Name: name})
	if m.pl.items == nil {
		m.pl.items = map[int64][]string{}
	}
	return m.pl.next, nil
}

func (m *fakeMedia) find(id int64) int {
	for i := range m.pl.lists {
		if m.pl.lists[i].ID == id {
			return i
		}
	}
	return -1
}

func (m *fakeMedia) RenamePlaylist(_ context.Context, id int64, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(id)
	if i < 0 {
		return errors.New("no such playlist")
	}
	m.pl.lists[i].Name = name
	return nil
}

func (m *fakeMedia) DeletePlaylist(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(id)
	if i < 0 {
		return errors.New("no such playlist")
	}
	m.pl.lists = append(m.pl.lists[:i], m.pl.lists[i+1:]...)
	delete(m.pl.items, id)
	return nil
}

func (m *fakeMedia) PlaylistItems(_ context.Context, id int64) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.pl.items[id]...), nil
}

func (m *fakeMedia) SetPlaylistItems(_ context.Context, id int64, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.find(id) < 0 {
		return errors.New("no such playlist")
	}
	m.pl.items[id] = append([]string(nil), ids...)
	return nil
}

// TestMusicPlaylist: create a playlist, add an album, reorder and remove
// tracks, rename, play it from an item, delete it.
func TestMusicPlaylist(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	m := &fakeMedia{tracks: []Track{
		{Content: cid(11), TitleID: "k1", Name: "Kettle Song", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 1, Duration: 185 * time.Second},
		{Content: cid(12), TitleID: "k2", Name: "Toast Waltz", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 2, Duration: 171 * time.Second},
		{Content: cid(13), TitleID: "k3", Name: "Radio On", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 3, Duration: 200 * time.Second},
	}}
	u.b.Media = m
	u.Show(ViewMusic)
	s := u.music
	p := s.pl
	p.createNamed("Breakfast")
	if p.cur == nil || p.cur.Name != "Breakfast" || p.sel.Selected != "Breakfast" {
		t.Fatalf("current playlist %+v, selected %q", p.cur, p.sel.Selected)
	}
	p.addAlbum()
	if got := len(p.items); got != 3 {
		t.Fatalf("playlist has %d items after adding the album", got)
	}
	s.trackL.Select(2) // Radio On
	p.move(-1)         // → second
	s.trackL.Select(0) // Kettle Song
	p.removeItem()
	items, _ := m.PlaylistItems(context.Background(), p.cur.ID)
	if len(items) != 2 || items[0] != "k3" || items[1] != "k2" {
		t.Fatalf("stored playlist %v, want [k3 k2]", items)
	}
	p.renameTo(p.cur.ID, "Late breakfast")
	if p.cur.Name != "Late breakfast" {
		t.Errorf("renamed to %q", p.cur.Name)
	}
	saveShot(t, u, "music-playlist.png")
	s.trackL.Select(1)
	test := s.play
	test.OnTapped()
	w.mu.Lock()
	q, pos := w.queue, w.pos
	w.mu.Unlock()
	if len(q) != 2 || q[0] != cid(13) || q[1] != cid(12) || pos != 1 {
		t.Errorf("played %v from %d", q, pos)
	}
	p.deleteID(p.cur.ID)
	if ls, _ := m.Playlists(context.Background()); len(ls) != 0 || p.cur != nil {
		t.Errorf("after delete: %v, current %+v", ls, p.cur)
	}
}

func (m *fakeMedia) RemoveFromDevice(_ context.Context, cs []sealed.ContentID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removed = append(m.removed, cs...)
	return nil
}
