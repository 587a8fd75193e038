package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"
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
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get("http://kith/tree")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tree InspectTree
	if err := json.NewDecoder(resp.Body).Decode(&tree); err != nil {
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
