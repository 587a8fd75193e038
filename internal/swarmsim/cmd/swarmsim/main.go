// Command swarmsim runs one simulated crowd (internal/swarmsim) and prints
// its figures:
//
//	go run ./internal/swarmsim/cmd/swarmsim -n 1000 -size 64 -churn 0.1 -free 0.3
//
// With -use 250ms it also prints, bin by bin from the first arrival, how
// much of the sharers' upload the crowd used.
package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/kith-media/kith/internal/swarmsim"
)

func main() {
	var c swarmsim.Config
	var sizeMiB int64
	flag.IntVar(&c.N, "n", 50, "devices")
	flag.Int64Var(&sizeMiB, "size", 8, "title size, MiB")
	flag.DurationVar(&c.Arrivals, "arrivals", 0, "Poisson arrivals spread over this long (0: all at once)")
	flag.Float64Var(&c.Churn, "churn", 0, "share of devices leaving mid-download")
	flag.Float64Var(&c.FreeRiders, "free", 0, "share of devices that never upload")
	flag.IntVar(&c.Stalled, "stalled", 0, "the first devices, which announce the title but answer every chunk request busy")
	flag.IntVar(&c.Flood, "flood", 0, "the first stalled devices that also ask the origin for every other part every 200 ms")
	flag.Float64Var(&c.Up, "up", 0, "per-device upload, bytes/s (default 2.5e6)")
	flag.Float64Var(&c.Down, "down", 0, "per-device download, bytes/s (default 12.5e6)")
	flag.Float64Var(&c.OriginUp, "origin", 0, "origin upload, bytes/s (default 125e6)")
	flag.Float64Var(&c.Shared, "shared", 0, "machine-wide cap on all transfers, bytes/s (0: none)")
	flag.Float64Var(&c.Contention, "contention", 0, "with -shared: the share each device downloading at once adds to a byte's cost")
	flag.DurationVar(&c.Latency, "latency", 0, "one-way latency per link (default 20ms)")
	flag.DurationVar(&c.ResupplyInterval, "resupply", 0, "directory re-ask interval (default 5s)")
	flag.DurationVar(&c.HaveInterval, "have", 0, "Have polling interval (default 500ms)")
	flag.DurationVar(&c.HaveWait, "have-wait", 0, "longest a peer holds a Have poll (default 4 x have; negative: none)")
	flag.IntVar(&c.MaxUploads, "max-uploads", 0, "concurrent uploads per device: its upload slots (default 8, peer.DefaultMaxUploads)")
	flag.IntVar(&c.MaxUploadsPerPeer, "max-per-peer", 0, "concurrent uploads per peer (default 4)")
	flag.IntVar(&c.MaxPeers, "max-peers", 0, "peers one download connects to (default 16)")
	flag.IntVar(&c.OriginInFlight, "origin-inflight", 0, "requests in flight to the origin (default 2)")
	flag.BoolVar(&c.Legacy, "legacy", false, "the algorithm before issue 13")
	flag.BoolVar(&c.V1Directory, "v1", false, "the directory answers suppliers v1 (no order of arrival: an older directory)")
	flag.Uint64Var(&c.Seed, "seed", 1, "random seed")
	flag.DurationVar(&c.Limit, "limit", 2*time.Hour, "virtual time limit")
	flag.DurationVar(&c.UseBin, "use", 0, "also print the sharers' upload use in bins of this length (0: not)")
	flag.Parse()
	c.Size = sizeMiB << 20
	r := swarmsim.Run(c)
	fmt.Println(r)
	for i, u := range r.UpUse {
		fmt.Printf("use %6.2fs %5.1f%% %s\n", (time.Duration(i) * c.UseBin).Seconds(), 100*u, strings.Repeat("#", int(u*50+0.5)))
	}
}
