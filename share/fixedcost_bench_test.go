package share

import (
	"fmt"
	"testing"

	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkCrowdFixed is BenchmarkFlashCrowd (the same harness, metrics
// and tuning) for a title of one chunk: what a download through the
// directory costs besides its bytes, measured directly rather than fitted
// from two title sizes. cpu_s ÷ N is about the CPU one device's download
// costs (the crowd's and the directory's) beyond its chunk: the
// directory's round trips (manifest, announcements, suppliers), the
// connections and handshakes to peers, the first polls, the library's
// files and index. The bytes are a few percent of it (256 KiB a device at
// the crowd's ~3.4 ns/B is under 1 ms).
//
//	go test -tags libsqlite3 -run '^$' -bench 'CrowdFixed/N=10$' -benchtime 1x ./share/
func BenchmarkCrowdFixed(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for range b.N {
				flashCrowd(b, n, sealed.DefaultChunkSize, false)
			}
		})
	}
}
