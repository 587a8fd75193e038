package directory

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkOnlineIndexGC measures what one garbage collection costs a
// directory whose online index holds a busy network (BenchmarkDirectory's:
// 100,000 devices announcing 10 holdings each over 20,000 contents, four
// policies): the collector's CPU time per cycle (gc-cpu-ms/cycle: the
// process's CPU time, all of it the collector's while the loop runs; the
// runtime's own GC CPU metric counts wall time its workers were descheduled
// on a busy machine) and the wall time of a cycle. The index is most of a
// serving directory's live heap, so this is the price of every cycle the
// process runs, whatever triggered it (an argon2 check allocates 19 MiB).
//
//	go test -run '^$' -bench BenchmarkOnlineIndexGC -benchtime 20x ./directory
func BenchmarkOnlineIndexGC(b *testing.B) {
	ix, _ := benchOnlineIndex()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC() // the cycle is what is measured
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "gc-cpu-ms/cycle")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/cycle")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MiB")
	b.ReportMetric(0, "ns/op")
	runtime.KeepAlive(ix)
}

// BenchmarkOnlineIndexSuppliers ranks the 16 suppliers of a random content
// for an asker, over the same index as BenchmarkOnlineIndexGC (50 holders a
// content): the index's part of a lookup, without HTTP or the encoding.
//
//	go test -run '^$' -bench BenchmarkOnlineIndexSuppliers -benchtime 200000x ./directory
func BenchmarkOnlineIndexSuppliers(b *testing.B) {
	ix, cs := benchOnlineIndex()
	asker := &Device{ID: "ASKER", Account: "bench00"}
	out := make([]Supplier, 0, DefaultSuppliers)
	seed := uint64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seed = seed*6364136223846793005 + 1442695040888963407
		out = ix.suppliers(out[:0], cs[seed>>33%uint64(len(cs))], time.Now(), asker, "203.0.113.7", nil, DefaultSuppliers, seed)
		if len(out) != DefaultSuppliers {
			b.Fatalf("%d suppliers", len(out))
		}
	}
}

// benchOnlineIndex builds BenchmarkDirectory's online index in memory:
// 100,000 devices (10 a account) announcing 10 holdings each over 20,000
// contents, under four policies.
func benchOnlineIndex() (*onlineIndex, []sealed.ContentID) {
	const devices, perDevice, contents = 100_000, 10, 20_000
	ix := newOnlineIndex()
	ix.loaded = true
	cs := make([]sealed.ContentID, contents)
	for i := range cs {
		cs[i] = sealed.ContentID{byte(i), byte(i >> 8), byte(i >> 16), 0xc0}
	}
	policies := []Policy{{Mode: PolicyAnyone}, {Mode: PolicyAnyone}, {Mode: PolicyHousehold}, {Mode: PolicyAnyone, Deny: []string{"acct00001"}}}
	exp := time.Now().Add(time.Hour)
	for i := 0; i < devices; i++ {
		a := &AnnounceRecord{Device: identity.ID(fmt.Sprintf("%016X%040d", mix64(uint64(i)+1), i)), PublicIP: fmt.Sprintf("198.51.%d.%d", i/250%250, i%250),
			Expires: exp, Announcement: Announcement{Addrs: []string{fmt.Sprintf("198.51.%d.%d:7000", i/250%250, i%250)},
				PrivateAddrs: []string{fmt.Sprintf("192.168.%d.%d", i%200, i%250)}, Load: i % 5}}
		for k := 0; k < perDevice; k++ {
			a.Holdings = append(a.Holdings, Holding{Content: cs[(i*7+k*contents/perDevice)%contents], Complete: true,
				Policy: policies[(i+k)%len(policies)]})
		}
		ix.announce(a, fmt.Sprintf("acct%05d", i/10))
	}
	return ix, cs
}

// processCPU is the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
