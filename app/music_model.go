package app

import (
	"sort"
	"strings"
)

// musicIndex is the Artists → Albums → Tracks view of a track list,
// built once per list so that filtering a keystroke is one pass.
type musicIndex struct {
	tracks []Track
	keys   []string // lower-cased "name\x00artist\x00album\x00album artist" per track
}

func newMusicIndex(ts []Track) *musicIndex {
	ix := &musicIndex{tracks: ts, keys: make([]string, len(ts))}
	for i := range ts {
		t := &ts[i]
		ix.keys[i] = strings.ToLower(t.Name + "\x00" + t.Artist + "\x00" + t.Album + "\x00" + t.AlbumArtist)
	}
	return ix
}

// filter returns the indexes of the tracks whose title, artist or album
// contains q (case-insensitive); "" matches all.
func (ix *musicIndex) filter(q string) []int {
	q = strings.ToLower(strings.TrimSpace(q))
	out := make([]int, 0, len(ix.tracks))
	for i, k := range ix.keys {
		if q == "" || strings.Contains(k, q) {
			out = append(out, i)
		}
	}
	return out
}

// album is one album of an artist.
type album struct {
	Artist, Name string
	Year         int
	Tracks       []int // indexes into the index's tracks, in disc and track order
}

// artists lists the artists (album artist, else artist) among sel.
func (ix *musicIndex) artists(sel []int) []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range sel {
		a := ix.tracks[i].AlbumArtistOrArtist()
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}

// albums lists artist's albums among sel ("" = every artist), tracks in order.
func (ix *musicIndex) albums(sel []int, artist string) []album {
	byKey := map[string]*album{}
	var out []*album
	for _, i := range sel {
		t := &ix.tracks[i]
		a := t.AlbumArtistOrArtist()
		if artist != "" && a != artist {
			continue
		}
		name := t.Album
		if name == "" {
			name = "Singles"
		}
		k := a + "\x00" + name
		al := byKey[k]
		if al == nil {
			al = &album{Artist: a, Name: name}
			byKey[k] = al
			out = append(out, al)
		}
		if t.Year > al.Year {
			al.Year = t.Year
		}
		al.Tracks = append(al.Tracks, i)
	}
	res := make([]album, len(out))
	for i, al := range out {
		sort.SliceStable(al.Tracks, func(x, y int) bool {
			a, b := &ix.tracks[al.Tracks[x]], &ix.tracks[al.Tracks[y]]
			if a.Disc != b.Disc {
				return a.Disc < b.Disc
			}
			if a.Track != b.Track {
				return a.Track < b.Track
			}
			return strings.ToLower(a.Name) < strings.ToLower(b.Name)
		})
		res[i] = *al
	}
	sort.Slice(res, func(i, j int) bool {
		if res[i].Artist != res[j].Artist {
			return strings.ToLower(res[i].Artist) < strings.ToLower(res[j].Artist)
		}
		if res[i].Year != res[j].Year {
			return res[i].Year < res[j].Year
		}
		return strings.ToLower(res[i].Name) < strings.ToLower(res[j].Name)
	})
	return res
}
