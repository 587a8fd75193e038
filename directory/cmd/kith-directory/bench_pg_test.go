package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/kith-media/kith/internal/pgtest"
)

// BenchmarkPurchasesPostgres measures purchases/s on PostgreSQL (fsync on,
// a private PostgreSQL 15 on this machine) with one instance and with two
// instances sharing the database, 64 clients spread over them, each
// purchase a new (account, title) pair, as BenchmarkDirectory/purchases
// does on SQLite. On 2 cores the two-instance figure is a regression
// guard, not a scale-out claim: both instances and the database share the
// same two cores. server-cpu-us/req is the first instance's.
//
//	go test -tags libsqlite3 -run '^$' -bench BenchmarkPurchasesPostgres -benchtime 4000x ./directory/cmd/kith-directory
func BenchmarkPurchasesPostgres(b *testing.B) {
	ctx := context.Background()
	if _, err := pgtest.Find(); err != nil && os.Getenv("CI") == "" {
		b.Skip(err)
	}
	srv, err := pgtest.Start(ctx, pgtest.Options{Durable: true, Settings: []string{"max_connections=300"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop() })
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			dsn, err := srv.CreateDB(ctx, fmt.Sprintf("bench%d", n))
			if err != nil {
				b.Fatal(err)
			}
			data := []string{b.TempDir(), b.TempDir()}
			runCmd(b, "migrate", "--data", data[0], "--store", dsn)
			key, _ := os.ReadFile(filepath.Join(data[0], "directory.key"))
			if err := os.WriteFile(filepath.Join(data[1], "directory.key"), key, 0o600); err != nil {
				b.Fatal(err)
			}
			const titles = 50
			titleIDs := make([]string, titles)
			for i := range titleIDs {
				titleIDs[i], _ = publishToStore(b, data[0], dsn, fmt.Sprintf("Bench %03d", i), 199)
			}
			ps := make([]*proc, n)
			for i := range ps {
				ps[i] = serve(b, data[i], "--store", dsn, "--rate-ip", "-1", "--rate-device", "-1")
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
				MaxIdleConnsPerHost: benchClients, ForceAttemptHTTP2: false}
			hc := &http.Client{Transport: tr}
			buyers := make([]*device, (b.N+titles-1)/titles)
			for i := range buyers {
				buyers[i] = enrollWith(b, ps[i%n], fmt.Sprintf("buyer%05d", i), "bench", hc)
			}
			regs := make([]func() error, b.N)
			for i := range regs {
				d := buyers[i/titles]
				sr := d.seal(b, titleIDs[i%titles], goodCard)
				regs[i] = func() error { _, err := d.c.Register(ctx, sr); return err }
			}
			hammer(b, b.N, ps[0].cmd.Process.Pid, func(i int) error { return regs[i]() })
		})
	}
}
