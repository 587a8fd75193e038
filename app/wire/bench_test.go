package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// seedLibrary makes data a signed-up household device whose library holds
// n titles: the first 100 complete and licensed, the rest ciphertext
// copied without a key ("locked"), partly or not at all.
func seedLibrary(b testing.TB, data string, n int) {
	ctx := context.Background()
	k, stop := startKith(b, ctx, data)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "bench"); err != nil {
		b.Fatal(err)
	}
	stop()
	lib, err := library.Open(filepath.Join(data, "library"), library.Options{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer lib.Close()
	key := make([]byte, sealed.KeySize)
	artists := []string{"Tuning Fork Ensemble", "Kith Household Band", "Pixel Harbour", "The Loopback Trio", "Multicast"}
	for i := range n {
		payload := fmt.Appendf(nil, "title %d of the benchmark library", i)
		var buf bytes.Buffer
		m, err := sealed.Seal(&buf, bytes.NewReader(payload), key, sealed.Options{MediaType: "audio/ogg", ChunkSize: 4096})
		if err != nil {
			b.Fatal(err)
		}
		if i < 100 {
			err = lib.Import(ctx, m, &buf)
		} else {
			err = lib.AddManifest(ctx, m)
		}
		if err != nil {
			b.Fatal(err)
		}
		t := library.Title{ID: fmt.Sprintf("seed-%05d", i), Name: fmt.Sprintf("Song %05d", n-i), Artist: artists[i%len(artists)],
			MediaType: "audio/ogg", ContentID: m.ContentID(), Size: int64(len(payload))}
		if err := lib.PutTitle(ctx, t); err != nil {
			b.Fatal(err)
		}
		if i < 100 { // the license bytes only mark it licensed: these are never played
			if err := lib.PutLicense(ctx, m.ContentID(), []byte("{}")); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// seeded returns a new data folder with a 10,000-title library.
func seeded(b *testing.B) string {
	dir := filepath.Join(b.TempDir(), "seed")
	t0 := time.Now()
	seedLibrary(b, dir, 10_000)
	b.Logf("seeded a 10,000-title library in %v", time.Since(t0).Round(time.Millisecond))
	return dir
}

func benchConfig(data string) Config {
	return Config{DataDir: data, NoLAN: true, HouseholdAddr: "127.0.0.1:0", Listen: "127.0.0.1:0",
		DeviceName: "bench", Output: newPaceOutput(), Logger: discard}
}

// BenchmarkStartup10k measures start-up to interactive with a 10,000-title
// library: device keys, household directory and node opened, player built,
// the window built over them, the library loaded and applied, and the
// first frame painted (Fyne's software painter). Target ≤ 1.5 s.
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench Startup10k -benchtime 5x ./app/wire
func BenchmarkStartup10k(b *testing.B) {
	data := seeded(b)
	ctx := context.Background()
	var times []time.Duration
	var phases [4]time.Duration // Start, New, RefreshNow, first frame
	for b.Loop() {
		t0 := time.Now()
		k, err := Start(ctx, benchConfig(data))
		t1 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- k.Serve(sctx) }()
		a := test.NewTempApp(b)
		u, err := app.New(app.Options{App: a, Backend: k.Backend, View: app.ViewLibrary, Logger: discard, OnQuit: func() {}})
		if err != nil {
			b.Fatal(err)
		}
		u.Window().Resize(fyne.NewSize(1100, 720))
		t2 := time.Now()
		u.RefreshNow(ctx)
		t3 := time.Now()
		u.Window().Canvas().Capture()
		t4 := time.Now()
		times = append(times, t4.Sub(t0))
		for i, d := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)} {
			phases[i] = max(phases[i], d)
		}
		b.StopTimer()
		items, err := k.Backend.Library.Items(ctx)
		if err != nil || len(items) != 10_000 {
			b.Fatalf("library has %d items (%v), want 10000", len(items), err)
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
	for i, name := range []string{"start", "build", "load", "paint"} {
		b.ReportMetric(float64(phases[i].Microseconds())/1000, "ms-max-"+name)
	}
}

// publishBig publishes n random titles of size bytes into data's household
// directory while it is not running, as `kith-directory publish` would.
func publishBig(b testing.TB, data string, n, size int) {
	ctx := context.Background()
	dir := filepath.Join(data, "household")
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "directory.key"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		if _, err := directory.Publish(ctx, st, id, filepath.Join(dir, "origin"), io.LimitReader(rand.Reader, int64(size)),
			directory.PublishOptions{Name: fmt.Sprintf("Big Title %d", i), Artist: "Bench", MediaType: "audio/ogg", Rights: license.Rights{Reshare: true}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUIDuringDownloads buys four 16 MiB titles at once on a device
// with a 10,000-title library while the UI's Serve loop moves every
// progress event onto the UI goroutine; it reports the longest a fyne.Do
// callback kept the UI goroutine (a frame) busy, and the download time.
// Target: no callback over 100 ms.
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench UIDuringDownloads -benchtime 1x ./app/wire
func BenchmarkUIDuringDownloads(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		data := seeded(b)
		publishBig(b, data, 4, 16<<20)
		k, err := Start(ctx, benchConfig(data))
		if err != nil {
			b.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 2)
		go func() { done <- k.Serve(sctx) }()
		a := test.NewTempApp(b)
		u, err := app.New(app.Options{App: a, Backend: k.Backend, View: app.ViewLibrary, Logger: discard, OnQuit: func() {}})
		if err != nil {
			b.Fatal(err)
		}
		u.Window().Resize(fyne.NewSize(1100, 720))
		go func() { done <- u.Serve(sctx) }()
		ts, _, err := k.Backend.Catalog.Titles(ctx, "Big Title", 1, 10)
		if err != nil || len(ts) != 4 {
			b.Fatalf("big titles: %d, %v", len(ts), err)
		}
		time.Sleep(200 * time.Millisecond) // the first full refresh
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		for _, t := range ts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := k.Backend.Catalog.Buy(ctx, t, nil); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		waitFor(b, "four downloads", 120*time.Second, func() bool {
			items, _ := k.Backend.Library.Items(ctx)
			owned := 0
			for _, it := range items {
				if it.State == app.StateOwned && it.Size > 1<<20 {
					owned++
				}
			}
			time.Sleep(500 * time.Millisecond) // polling 10,000 titles competes with the UI for the CPU
			return owned == 4
		})
		dl := time.Since(t0)
		b.StopTimer()
		st := u.Stats()
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.MaxRun.Microseconds())/1000, "ms-max-callback")
		if st.Calls > 0 {
			b.ReportMetric(float64(st.SumRun.Microseconds())/1000/float64(st.Calls), "ms-mean-callback")
		}
		b.ReportMetric(float64(st.Calls), "callbacks")
		b.ReportMetric(dl.Seconds(), "s-download-4x16MiB")
		b.StartTimer()
	}
}
