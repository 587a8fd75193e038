package directory_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkHeartbeat: what an unchanged heartbeat costs the directory and
// the device together (one process: real TLS, SQLite) for a library of h
// titles: the holdings in full ("full_") against named by digest
// (holdings_same, "same_"). Each op sends one of each, in turns (after a
// warm-up), over the same transport, signed alike (signedDo), each body
// encoded from the announcement as the client does; cpu_us is the
// process's user+system CPU, us the wall time, B the request body.
func BenchmarkHeartbeat(b *testing.B) {
	for _, h := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("holdings=%d", h), func(b *testing.B) { benchHeartbeat(b, h) })
	}
}

func benchHeartbeat(b *testing.B, h int) {
	d := dirtest.Serve(b, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	st := d.Store.(*sqlitestore.Store)
	dev := enrollIn(b, st, "alice")
	a := directory.Announcement{Addrs: []string{"198.51.100.2:7000"}, PrivateAddrs: []string{"192.168.1.7/24"}}
	for i := range h {
		var cid sealed.ContentID
		rand.Read(cid[:])
		a.Holdings = append(a.Holdings, directory.Holding{Content: cid, Complete: i%3 != 0, Policy: directory.Policy{Mode: directory.PolicyHousehold}})
	}
	hc := tlsClient(b)
	var size [2]int
	n := 0
	send := func(same bool) {
		n++
		x := a
		x.Load = n % 7 // a body of its own (signed requests are refused as replays) as a heartbeat's load changes
		if same {
			x.Holdings, x.HoldingsSame = nil, directory.HoldingsDigest(a.Holdings)
		}
		body, err := json.Marshal(x)
		if err != nil {
			b.Fatal(err)
		}
		resp, ans := signedDo(b, hc, d.Addr, dev, "POST", "/v1/announce", body)
		if resp.StatusCode != 200 {
			b.Fatalf("same %v: %d %s", same, resp.StatusCode, ans)
		}
		if same {
			size[1] = len(body)
		} else {
			size[0] = len(body)
		}
	}
	send(false)
	for range 20 {
		send(false)
		send(true)
	}
	alternated(b, [2]string{"full_", "same_"}, send)
	b.ReportMetric(float64(size[0]), "full_B/op")
	b.ReportMetric(float64(size[1]), "same_B/op")
}
