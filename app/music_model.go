package app

import (
	"sort"
	"strings"

	"github.com/kith-media/kith/share/sealed"
)

// musicIndex is the Artists → Albums → Tracks view of a track list. It is
// built once per list (sorted, grouped, lower-cased) so that a keystroke
// in the search is a few linear passes without sorting.
type musicIndex struct {
	tracks      []Track
	keys        []string       // lower-cased "name\x00artist\x00album\x00album artist" per track
	artistNames []string       // sorted
	artist      []int32        // per track: its index in artists
	all         []album        // every album, sorted by artist, year, name; tracks in order
	albumOf     []int32        // per track: its index in all
	byID        map[string]int // track index by title ID
	byContent   map[sealed.ContentID]int
}

// album is one album of an artist.
type album struct {
	Artist, Name string
	Year         int
	Tracks       []int // indexes into the index's tracks, in disc and track order
}

func newMusicIndex(ts []Track) *musicIndex {
	ix := &musicIndex{tracks: ts, keys: make([]string, len(ts)), artist: make([]int32, len(ts)), albumOf: make([]int32, len(ts)),
		byID: make(map[string]int, len(ts)), byContent: make(map[sealed.ContentID]int, len(ts))}
	type group struct {
		artist, name, lArtist, lName string
		year                         int
		tracks                       []int
	}
	byKey := map[[2]string]*group{}
	var groups []*group
	for i := range ts {
		t := &ts[i]
		ix.byID[t.TitleID] = i
		ix.byContent[t.Content] = i
		ix.keys[i] = strings.ToLower(t.Name + "\x00" + t.Artist + "\x00" + t.Album + "\x00" + t.AlbumArtist)
		a, name := t.AlbumArtistOrArtist(), t.Album
		if name == "" {
			name = "Singles"
		}
		g := byKey[[2]string{a, name}]
		if g == nil {
			g = &group{artist: a, name: name, lArtist: strings.ToLower(a), lName: strings.ToLower(name)}
			byKey[[2]string{a, name}] = g
			groups = append(groups, g)
		}
		g.year = max(g.year, t.Year)
		g.tracks = append(g.tracks, i)
	}
	sort.Slice(groups, func(i, j int) bool {
		a, b := groups[i], groups[j]
		if a.lArtist != b.lArtist {
			return a.lArtist < b.lArtist
		}
		if a.year != b.year {
			return a.year < b.year
		}
		return a.lName < b.lName
	})
	lower := make([]string, len(ts))
	ix.all = make([]album, len(groups))
	for gi, g := range groups {
		for _, i := range g.tracks {
			lower[i] = strings.ToLower(ts[i].Name)
			ix.albumOf[i] = int32(gi)
		}
		sort.SliceStable(g.tracks, func(x, y int) bool {
			a, b := &ts[g.tracks[x]], &ts[g.tracks[y]]
			if a.Disc != b.Disc {
				return a.Disc < b.Disc
			}
			if a.Track != b.Track {
				return a.Track < b.Track
			}
			return lower[g.tracks[x]] < lower[g.tracks[y]]
		})
		ix.all[gi] = album{Artist: g.artist, Name: g.name, Year: g.year, Tracks: g.tracks}
		if len(ix.artistNames) == 0 || ix.artistNames[len(ix.artistNames)-1] != g.artist {
			ix.artistNames = append(ix.artistNames, g.artist)
		}
		for _, i := range g.tracks {
			ix.artist[i] = int32(len(ix.artistNames) - 1)
		}
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

// artists lists the artists (album artist, else artist) among sel, sorted.
func (ix *musicIndex) artists(sel []int) []string {
	has := make([]bool, len(ix.artistNames))
	for _, i := range sel {
		has[ix.artist[i]] = true
	}
	var out []string
	for a, ok := range has {
		if ok {
			out = append(out, ix.artistNames[a])
		}
	}
	return out
}

// albums lists artist's albums among sel ("" = every artist), tracks in order.
func (ix *musicIndex) albums(sel []int, artist string) []album {
	count := make([]int32, len(ix.all))
	match := make([]bool, len(ix.tracks))
	for _, i := range sel {
		count[ix.albumOf[i]]++
		match[i] = true
	}
	var out []album
	for gi := range ix.all {
		al := &ix.all[gi]
		if count[gi] == 0 || artist != "" && al.Artist != artist {
			continue
		}
		if int(count[gi]) == len(al.Tracks) {
			out = append(out, *al)
			continue
		}
		part := *al
		part.Tracks = make([]int, 0, count[gi])
		for _, i := range al.Tracks {
			if match[i] {
				part.Tracks = append(part.Tracks, i)
			}
		}
		out = append(out, part)
	}
	return out
}
