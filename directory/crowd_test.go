package directory

import (
	"maps"
	"slices"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

func TestReadCrowd(t *testing.T) {
	const self, a, b, c = identity.ID("SELF"), identity.ID("A"), identity.ID("B"), identity.ID("C")
	origin := Supplier{Origin: true}
	for _, tc := range []struct {
		name                  string
		sups                  []Supplier
		asked                 int
		downloading, complete []identity.ID
		arrival               map[identity.ID]int
		unordered             int
		full, ordered         bool
	}{
		{name: "alone", sups: []Supplier{origin}, asked: 3},
		{
			name:  "a forming crowd, in order",
			sups:  []Supplier{{Device: a, Arrival: -1}, {Device: b, Arrival: 2}, origin, {Device: c, Complete: true}},
			asked: 50, downloading: []identity.ID{a, b}, complete: []identity.ID{c},
			arrival: map[identity.ID]int{a: -1, b: 2}, ordered: true,
		},
		{
			name:  "a v1 answer: no order",
			sups:  []Supplier{{Device: a}, {Device: b, Arrival: 1}},
			asked: 50, downloading: []identity.ID{a, b}, arrival: map[identity.ID]int{b: 1}, unordered: 1,
		},
		{
			// The asker listed counts toward the holders asked for; the
			// origin does not.
			name:  "full with the asker",
			sups:  []Supplier{{Device: self, Arrival: 1}, {Device: a, Arrival: 2}, origin},
			asked: 2, downloading: []identity.ID{a}, arrival: map[identity.ID]int{a: 2}, full: true,
		},
		{
			name:  "not full: the origin is no holder",
			sups:  []Supplier{{Device: a, Arrival: 1}, origin},
			asked: 2, downloading: []identity.ID{a}, arrival: map[identity.ID]int{a: 1}, ordered: true,
		},
		{
			name:  "only complete holders",
			sups:  []Supplier{{Device: a, Complete: true}, {Device: b, Complete: true}},
			asked: 50, complete: []identity.ID{a, b},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := ReadCrowd(tc.sups, self, tc.asked)
			if !slices.Equal(cr.Downloading, tc.downloading) || !slices.Equal(cr.Complete, tc.complete) {
				t.Errorf("downloading %v complete %v; want %v and %v", cr.Downloading, cr.Complete, tc.downloading, tc.complete)
			}
			if !maps.Equal(cr.Arrival, tc.arrival) || cr.Unordered != tc.unordered {
				t.Errorf("arrival %v unordered %d; want %v and %d", cr.Arrival, cr.Unordered, tc.arrival, tc.unordered)
			}
			if cr.Full != tc.full || cr.Ordered() != tc.ordered {
				t.Errorf("full %v ordered %v; want %v and %v", cr.Full, cr.Ordered(), tc.full, tc.ordered)
			}
			set := cr.Downloads()
			if len(set) != len(tc.downloading) {
				t.Errorf("Downloads %v; want %v", set, tc.downloading)
			}
			for _, id := range tc.downloading {
				if !set[id] {
					t.Errorf("Downloads lacks %s", id)
				}
			}
		})
	}
}
