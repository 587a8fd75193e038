package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestShapeLibrary(t *testing.T) {
	now := time.Now()
	all := []Item{
		{Name: "beta", Artist: "Zed", State: StateOwned, Added: now.Add(-3 * time.Hour), Size: 10, Have: 10},
		{Name: "Alpha", Artist: "amy", State: StateLocked, Added: now.Add(-1 * time.Hour), Size: 10, Have: 2},
		{Name: "gamma", Artist: "Amy", State: StateDownloading, Added: now.Add(-2 * time.Hour), Size: 10, Have: 5},
	}
	for _, tc := range []struct {
		name string
		q    libQuery
		want []int
	}{
		{"newest first by default", libQuery{}, []int{1, 2, 0}},
		{"by name, case-insensitive", libQuery{sort: 1}, []int{1, 0, 2}},
		{"by artist then name", libQuery{sort: 2}, []int{1, 2, 0}},
		{"by progress", libQuery{sort: 3}, []int{1, 2, 0}},
		{"playable only", libQuery{state: 1, sort: 1}, []int{0, 2}},
		{"downloading only", libQuery{state: 2}, []int{2}},
		{"locked only", libQuery{state: 3}, []int{1}},
		{"filter matches artist, any case", libQuery{text: "amy", sort: 1}, []int{1, 2}},
		{"filter matches nothing", libQuery{text: "nope"}, []int{}},
	} {
		got := shapeLibrary(all, tc.q)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A download that completes raises one desktop notification.
func TestDownloadFinishedNotifies(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.items = []Item{{Content: cid(1), Name: "Kith Jingle", State: StateDownloading, Size: 10, Have: 5}}
	u := newTestUI(t, w)
	w.mu.Lock()
	w.items[0].State, w.items[0].Have = StateOwned, 10
	w.mu.Unlock()
	w.changed(areaLibrary)
	u.pump(context.Background())
	// The test app records notifications only through its driver; the
	// screen's own bookkeeping is checked instead.
	if got := u.library.states[cid(1)]; got != StateOwned {
		t.Errorf("state after finishing = %v", got)
	}
	if f := u.library.finished([]Item{{Content: cid(1), State: StateOwned}}); len(f) != 0 {
		t.Errorf("finished twice: %v", f)
	}
}

// BenchmarkLibraryRefresh10k measures one library refresh with 10,000
// titles: the part off the UI goroutine (shape: filter + sort) and the part
// on it (apply: what blocks a frame).
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench LibraryRefresh10k ./app
func BenchmarkLibraryRefresh10k(b *testing.B) {
	w := newFakeWorld()
	w.account = "a"
	for i := range 10_000 {
		w.items = append(w.items, Item{Content: cid(i), Name: fmt.Sprintf("Song %05d", 10_000-i), Artist: fmt.Sprintf("Artist %d", i%50),
			State: ItemState(i % 4), Size: 1000, Have: int64(i % 1000), Added: time.Unix(int64(i), 0)})
	}
	test.NewTempApp(b)
	u, err := newUI(Options{App: fyne.CurrentApp(), Backend: w.backend(), View: ViewLibrary, OnQuit: func() {}}, true)
	if err != nil {
		b.Fatal(err)
	}
	defer u.win.Close()
	u.win.Resize(fyne.NewSize(1100, 720))
	ctx := context.Background()
	var maxShape, maxApply time.Duration
	for b.Loop() {
		items, _ := u.b.Library.Items(ctx)
		t0 := time.Now()
		q := u.library.query()
		shown := shapeLibrary(items, q)
		f := u.library.finished(items)
		t1 := time.Now()
		u.library.apply(items, shown, q, f, nil)
		t2 := time.Now()
		maxShape, maxApply = max(maxShape, t1.Sub(t0)), max(maxApply, t2.Sub(t1))
	}
	b.ReportMetric(float64(maxShape.Microseconds())/1000, "ms-max-off-ui")
	b.ReportMetric(float64(maxApply.Microseconds())/1000, "ms-max-on-ui")
}
