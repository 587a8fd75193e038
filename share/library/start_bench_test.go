package library

import (
	"context"
	"testing"

	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkDownloadStart is what the library does as a download through the
// directory starts (Node.fetch): the manifest fetched from the directory is
// added (its row, the new .part file), then added again as read back from
// the library. cpu_us/op is the process's CPU (user+system: the fsyncs'
// kernel work counts), besides the wall time.
func BenchmarkDownloadStart(b *testing.B) {
	ctx := context.Background()
	l := openLib(b, b.TempDir())
	ms := make([]*sealed.Manifest, b.N)
	for i := range ms {
		_, ms[i], _, _ = sealedFile(b, 20_000+i, 4096)
	}
	cpu0 := cpuNow()
	b.ResetTimer()
	for _, m := range ms {
		for range 2 {
			if err := l.AddManifest(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N), "cpu_us/op")
}
