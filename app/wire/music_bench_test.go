package wire

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	_ "github.com/mattn/go-sqlite3"

	"github.com/kith-media/kith/app"
)

// seedMusic makes data a signed-up household device whose library index
// lists n tagged titles (n/12 albums of 12 tracks), written in one
// transaction straight into the index the library migrated: a fixture,
// not a path the product takes.
func seedMusic(b *testing.B, data string, n int) {
	ctx := context.Background()
	k, stop := startKith(b, ctx, data)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "bench"); err != nil {
		b.Fatal(err)
	}
	stop()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "library", "index.db")+"?_busy_timeout=10000")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO titles(id, name, artist, media_type, content_id, size, added_at, album, track, year, duration_ms)
		VALUES (?, ?, ?, 'audio/mpeg', ?, 5000000, 0, ?, ?, ?, 200000)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		al := i / 12
		if _, err := st.Exec(fmt.Sprintf("m%06d", i), fmt.Sprintf("Song %06d", i), fmt.Sprintf("Artist %04d", al/10),
			fmt.Sprintf("%064x", i), fmt.Sprintf("Album %05d", al), i%12+1, 1990+al%30); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStartupMusic50k measures start-up to interactive on the Music
// screen with 50,000 titles: device keys, household directory and node
// opened, player built, the window built, the 50,000 tracks loaded from
// the library index, grouped into artists and albums and applied, and the
// first frame painted (Fyne's software painter). Target ≤ 1.5 s.
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench StartupMusic50k -benchtime 3x ./app/wire
func BenchmarkStartupMusic50k(b *testing.B) {
	data := filepath.Join(b.TempDir(), "seed")
	t0 := time.Now()
	seedMusic(b, data, 50_000)
	b.Logf("seeded 50,000 titles in %v", time.Since(t0).Round(time.Millisecond))
	ctx := context.Background()
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		k, err := Start(ctx, benchConfig(data))
		if err != nil {
			b.Fatal(err)
		}
		tStart := time.Since(t0)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- k.Serve(sctx) }()
		a := test.NewTempApp(b)
		u, err := app.New(app.Options{App: a, Backend: k.Backend, View: app.ViewMusic, Logger: discard, OnQuit: func() {}})
		if err != nil {
			b.Fatal(err)
		}
		tNew := time.Since(t0)
		u.Window().Resize(fyne.NewSize(1100, 720))
		u.RefreshNow(ctx)
		tRefresh := time.Since(t0)
		u.Window().Canvas().Capture()
		times = append(times, time.Since(t0))
		b.Logf("start %v, window %v, loaded and applied %v, painted %v", tStart.Round(time.Millisecond),
			(tNew - tStart).Round(time.Millisecond), (tRefresh - tNew).Round(time.Millisecond), (time.Since(t0) - tRefresh).Round(time.Millisecond))
		b.StopTimer()
		if ts, err := k.Backend.Media.Tracks(ctx); err != nil || len(ts) != 50_000 {
			b.Fatalf("the library lists %d tracks (%v), want 50000", len(ts), err)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		u.Window().Close()
		b.StartTimer()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "ms-max")
}
