package library

import (
	"context"
	"testing"
)

// BenchmarkTitlesQuery10k times one page of each kind of query the Library
// screen makes over 10,001 titles: the figure the removed 200 ms wall-clock
// check in TestTitlesQuery10k used to guess at.
func BenchmarkTitlesQuery10k(b *testing.B) {
	ctx := context.Background()
	l := openLib(b, b.TempDir())
	fillTitles(b, l, 10000)
	queries := []struct {
		name string
		q    Query
	}{
		{"first-page", Query{Limit: 20}},
		{"sort-added-page", Query{Sort: SortAdded, Offset: 100, Limit: 10}},
		{"search-artist", Query{Search: "artist 5", Sort: SortSize, Limit: 50}},
		{"media-type", Query{MediaType: "video/", Sort: SortSize, Desc: true, Limit: 50}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := l.Titles(ctx, q.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
