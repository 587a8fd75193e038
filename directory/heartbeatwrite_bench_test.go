package directory_test

import (
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkHeartbeatUnchanged: what a heartbeat costs the directory and
// the device together (one process: real TLS, SQLite) for a library of 100
// titles when it repeats the stored announcement ("unchanged_": answered
// without a store write, heartbeat.go) against one whose load changed
// ("written_": the row rewritten, as every heartbeat was before). Each op
// sends one of each, in turns, from two devices of one account; each
// device's bodies alternate holdings in full and by digest (a body of its
// own each time: signed requests are refused as replays). An idle device
// with the product's 30 s heartbeats and 90 s TTL sends one of each in
// turn.
func BenchmarkHeartbeatUnchanged(b *testing.B) {
	d := dirtest.Serve(b, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	st := d.Store.(*sqlitestore.Store)
	devs := [2]*identity.Identity{enrollIn(b, st, "alice"), enrollIn(b, st, "alice")}
	a := directory.Announcement{Addrs: []string{"198.51.100.2:7000"}, PrivateAddrs: []string{"192.168.1.7/24"}}
	for i := range 100 {
		var cid sealed.ContentID
		rand.Read(cid[:])
		a.Holdings = append(a.Holdings, directory.Holding{Content: cid, Complete: i%3 != 0, Policy: directory.Policy{Mode: directory.PolicyHousehold}})
	}
	hc := tlsClient(b)
	var n [2]int
	send := func(unchanged bool) {
		k := 0
		if unchanged {
			k = 1
		}
		n[k]++
		x := a
		if !unchanged {
			x.Load = n[k] % 7
		}
		if n[k]%2 == 0 {
			x.Holdings, x.HoldingsSame = nil, directory.HoldingsDigest(a.Holdings)
		}
		body, err := json.Marshal(x)
		if err != nil {
			b.Fatal(err)
		}
		resp, ans := signedDo(b, hc, d.Addr, devs[k], "POST", "/v1/announce", body)
		if resp.StatusCode != 200 {
			b.Fatalf("unchanged %v: %d %s", unchanged, resp.StatusCode, ans)
		}
	}
	for range 20 {
		send(false)
		send(true)
	}
	alternated(b, [2]string{"written_", "unchanged_"}, send)
}
