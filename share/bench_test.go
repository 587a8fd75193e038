package share

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/peer"
)

// BenchmarkFlashCrowd: one origin and N nodes wanting the same 64 MiB title
// at once (directory-coupled: each asks the directory for suppliers and
// finds the others while downloading). Reports origin bytes ÷ title size
// (origin_x; plain client-server would be N), the time for all N (s_all)
// and for one node alone (s_one).
//
//	go test -tags libsqlite3 -run '^$' -bench FlashCrowd -benchtime 1x ./share/
func BenchmarkFlashCrowd(b *testing.B) {
	for _, n := range []int{10, 25, 50} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for range b.N {
				flashCrowd(b, n, 64<<20)
			}
		})
	}
}

func crowdTune(o *Options) {
	o.ResupplyInterval = 500 * time.Millisecond
	o.Fetch.OriginInFlight = 1
	o.Server.MaxUploads = 64
	o.Server.MaxUploadsPerPeer = 4
}

func flashCrowd(b *testing.B, n, size int) {
	ctx := context.Background()
	d := startDirectory(b)
	title, _ := d.publish(b, fmt.Sprintf("Crowd %d", n), size, 0)
	fileSize := float64(title.Size)

	alone := startNode(b, d, "crowd", crowdTune)
	if _, err := alone.Register(ctx, title.ID); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := alone.Fetch(ctx, title.ContentID); err != nil {
		b.Fatal(err)
	}
	one := time.Since(t0)
	// The lone node leaves, so the crowd starts from the origin only.
	alone.lib.SetPolicy(ctx, "", (libPolicy{Mode: "nobody"}).p())
	if err := alone.Announce(ctx); err != nil {
		b.Fatal(err)
	}

	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = startNode(b, d, "crowd", crowdTune)
		if _, err := nodes[i].Register(ctx, title.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	t0 = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nd.Fetch(ctx, title.ContentID); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	all := time.Since(t0)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var origin int64
	for _, nd := range nodes {
		origin += downloadedFrom(b, nd, d.ident.ID())
	}
	b.ReportMetric(float64(origin)/fileSize, "origin_x")
	b.ReportMetric(all.Seconds(), "s_all")
	b.ReportMetric(one.Seconds(), "s_one")
}

var _ = peer.ProtoVersion
