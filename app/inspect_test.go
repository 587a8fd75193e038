package app

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// The inspector serves what the window shows — list rows included, which
// only Fyne's renderer cache knows — over its unix socket.
func TestInspectorShowsWindow(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.Show(ViewStore)
	u.store.list.Select(0)

	sock := filepath.Join(t.TempDir(), "ui.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.ServeInspect(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	tree, err := NewInspectClient(sock).Tree()
	if err != nil {
		t.Fatal(err)
	}
	if tree.View != ViewStore || tree.Scale <= 0 || tree.Width < 1000 {
		t.Errorf("tree: view %q scale %v width %v", tree.View, tree.Scale, tree.Width)
	}
	found := map[string]InspectNode{}
	for _, n := range tree.Nodes {
		if n.Text != "" {
			found[n.Type+" "+n.Text] = n
		}
	}
	for _, want := range []string{"*widget.Label Kith Jingle", "*widget.Label Evening Bells", "*widget.Button Get (free)", "*widget.Label Store"} {
		n, ok := found[want]
		if !ok {
			t.Errorf("%q not in the tree", want)
			continue
		}
		if n.W <= 0 || n.H <= 0 || n.X < 0 || n.Y < 0 || n.X+n.W > tree.Width || n.Y+n.H > tree.Height {
			t.Errorf("%q at %v,%v size %vx%v: outside the %vx%v window", want, n.X, n.Y, n.W, n.H, tree.Width, tree.Height)
		}
	}
}

// The inspector says when a text runs past its widget (a cell of a table
// laid out without truncation runs into the next column), so a test of
// the real window can fail on it.
func TestInspectorReportsSpill(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	long := widget.NewLabel("Concert A (440 Hz) — the long recording with every tuning fork of the ensemble")
	fits := widget.NewLabel("Concert A")
	u.win.SetContent(container.NewGridWithColumns(4, widget.NewLabel("bedroom"), long, fits, widget.NewLabel("9.0 KiB")))
	u.win.Resize(fyne.NewSize(600, 200))
	spill := map[string]float32{}
	for _, n := range u.inspect().Nodes {
		if n.Type == "*canvas.Text" {
			spill[n.Text] = n.Spill
		}
	}
	if spill[long.Text] < 100 {
		t.Errorf("long cell spill = %v, want it to run well past its column", spill[long.Text])
	}
	if spill["Concert A"] != 0 || spill["bedroom"] != 0 {
		t.Errorf("cells that fit report spill %v, %v", spill["Concert A"], spill["bedroom"])
	}
}
