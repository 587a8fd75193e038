package directory_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/sealed"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// alternated runs f(false) and f(true) once each per op, which goes first
// alternating (so a loaded machine weighs on both alike), and reports each
// one's process CPU (user+system, names[j]+"cpu_us/op") and wall time
// (names[j]+"us/op") a call: j 0 for f(false), 1 for f(true).
func alternated(b *testing.B, names [2]string, f func(bool)) {
	var cpu, wall [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for k := range 2 {
			j := (i + k) % 2
			c0, t0 := processCPU(), time.Now()
			f(j == 1)
			cpu[j] += processCPU() - c0
			wall[j] += time.Since(t0)
		}
	}
	for j, name := range names {
		b.ReportMetric(float64(cpu[j].Microseconds())/float64(b.N), name+"cpu_us/op")
		b.ReportMetric(float64(wall[j].Microseconds())/float64(b.N), name+"us/op")
	}
}

// BenchmarkDownloadStartRequests: what a download's start costs the
// directory and the device together (one process: real TLS, SQLite) with
// 10 holders of the title: an announcement and then GET /v1/suppliers
// ("two_"), against the announcement asking for the lookup
// (Client.AnnounceSuppliers, "one_"). Each op does one start of each, in
// turns (after a warm-up of both), so a loaded machine weighs on both
// alike; cpu_us is the process's user+system CPU, us the wall time. Each
// start announces the title partial or complete in turn, so every
// announcement rewrites the device's holdings as a download's does.
func BenchmarkDownloadStartRequests(b *testing.B) {
	ctx := context.Background()
	d := dirtest.Serve(b, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	st := d.Store.(*sqlitestore.Store)
	var cid sealed.ContentID
	rand.Read(cid[:])
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	for i := range 10 {
		h := enrollIn(b, st, "bob")
		if err := d.Client(b, h).Announce(ctx, directory.Announcement{Addrs: []string{fmt.Sprintf("198.51.100.%d:7000", i+1)},
			Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: anyone}}}); err != nil {
			b.Fatal(err)
		}
	}
	c := d.Client(b, enrollIn(b, st, "alice"))
	n := 0
	start := func(one bool) {
		n++
		a := directory.Announcement{Addrs: []string{"198.51.100.200:7000"},
			Holdings: []directory.Holding{{Content: cid, Complete: n%2 == 1, Policy: anyone}}}
		var sups []directory.Supplier
		var err error
		if one {
			var ok bool
			if _, sups, ok, err = c.AnnounceSuppliers(ctx, a, cid, directory.MaxSuppliers); err == nil && !ok {
				err = fmt.Errorf("no list")
			}
		} else if err = c.Announce(ctx, a); err == nil {
			sups, err = c.SuppliersN(ctx, cid, directory.MaxSuppliers)
		}
		if err != nil {
			b.Fatal(err)
		}
		if len(sups) != 10 {
			b.Fatalf("%d suppliers; want 10", len(sups))
		}
	}
	for range 50 {
		start(false)
		start(true)
	}
	alternated(b, [2]string{"two_", "one_"}, start)
}
