package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
	_ "unsafe" // go:linkname, for the renderer cache (see rendererOf)

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// InspectEnv names the environment variable that turns the inspector on:
// set to a path, kith serves what its window shows on a unix socket there
// (GET /tree), so a test can drive the real binary with synthetic mouse and
// keyboard events and assert on what the window shows (e2e's
// TestDrivenHousehold). It is read-only, answers only on that socket (mode
// 0600), and is off unless the variable is set: never in normal runs.
const InspectEnv = "KITH_INSPECT_SOCKET"

// InspectNode is one visible object of the window, in canvas coordinates
// (multiply by InspectTree.Scale for pixels).
type InspectNode struct {
	Type  string  `json:"type"` // Go type, e.g. "*widget.Button"
	Text  string  `json:"text,omitempty"`
	Hint  string  `json:"hint,omitempty"` // an entry's placeholder
	X     float32 `json:"x"`
	Y     float32 `json:"y"`
	W     float32 `json:"w"`
	H     float32 `json:"h"`
	TextW float32 `json:"tw,omitempty"` // a drawn text's own width, which may pass its box
	// Spill is how far a drawn text runs past the right edge of the
	// widget it belongs to (a label in a table cell running into the
	// next column); 0 when it fits.
	Spill    float32 `json:"spill,omitempty"`
	Disabled bool    `json:"disabled,omitempty"`
	Focused  bool    `json:"focused,omitempty"`
	Checked  bool    `json:"checked,omitempty"`
	Value    float64 `json:"value,omitempty"` // sliders and progress bars
	Overlay  bool    `json:"overlay,omitempty"`
	// CutX and CutY are set when part of the object lies left/right
	// (above/below) of what its scroller, or the window, shows.
	CutX bool `json:"cut_x,omitempty"`
	CutY bool `json:"cut_y,omitempty"`
}

// InspectTree is the whole window as the inspector sees it.
type InspectTree struct {
	View   string        `json:"view"`
	Scale  float32       `json:"scale"`
	Width  float32       `json:"width"`
	Height float32       `json:"height"`
	Nodes  []InspectNode `json:"nodes"`
	// Video are the video view's counts (nil without a video view).
	Video *VideoStats `json:"video,omitempty"`
}

// ServeInspect answers GET /tree on ln with the window's visible objects
// until ctx ends. The tree is read on the UI goroutine.
func (u *UI) ServeInspect(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tree", func(w http.ResponseWriter, r *http.Request) {
		got := make(chan InspectTree, 1)
		fyne.Do(func() { got <- u.inspect() })
		select {
		case t := <-got:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(t)
		case <-time.After(5 * time.Second):
			http.Error(w, "the UI goroutine did not answer within 5 s", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("inspector: %w", err)
	}
	return nil
}

// InspectClient reads what a kith window shows from its inspector
// (ServeInspect) on the unix socket at a path: the tests that drive the
// real binary use it.
type InspectClient struct{ hc *http.Client }

// NewInspectClient returns a client for the inspector at socket path sock
// (the socket need not exist yet: each Tree dials it).
func NewInspectClient(sock string) *InspectClient {
	return &InspectClient{hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}}
}

// maxInspectTree bounds an inspector's answer.
const maxInspectTree = 32 << 20

// Tree reads what the window shows now.
func (c *InspectClient) Tree() (InspectTree, error) {
	var tr InspectTree
	resp, err := c.hc.Get("http://kith/tree")
	if err != nil {
		return tr, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return tr, fmt.Errorf("inspector: %s: %s", resp.Status, b)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, maxInspectTree)).Decode(&tr)
	return tr, err
}

// inspect walks the window's content and overlays (UI goroutine).
func (u *UI) inspect() InspectTree {
	c := u.win.Canvas()
	t := InspectTree{View: u.view, Scale: c.Scale(), Width: c.Size().Width, Height: c.Size().Height}
	focused := c.Focused()
	full := clip{0, 0, t.Width, t.Height}
	walkInspect(c.Content(), fyne.Position{}, full, full, false, focused, &t.Nodes)
	for _, o := range c.Overlays().List() {
		walkInspect(o, fyne.Position{}, full, full, true, focused, &t.Nodes)
	}
	if u.video != nil {
		s := u.video.stats()
		t.Video = &s
	}
	return t
}

type clip struct{ x, y, w, h float32 }

func (c clip) intersect(o clip) clip {
	x, y := max(c.x, o.x), max(c.y, o.y)
	return clip{x, y, max(0, min(c.x+c.w, o.x+o.w)-x), max(0, min(c.y+c.h, o.y+o.h)-y)}
}

// walkInspect records o and its visible children; objects outside the
// area a scroller shows are left out (they cannot be seen or clicked).
// owner is the box of the widget o belongs to.
func walkInspect(o fyne.CanvasObject, off fyne.Position, area, owner clip, overlay bool, focused fyne.Focusable, out *[]InspectNode) {
	if o == nil || !o.Visible() {
		return
	}
	pos := off.Add(o.Position())
	size := o.Size()
	box := clip{pos.X, pos.Y, size.Width, size.Height}
	if seen := area.intersect(box); seen.w <= 0 || seen.h <= 0 {
		return
	}
	n := InspectNode{Type: fmt.Sprintf("%T", o), X: pos.X, Y: pos.Y, W: size.Width, H: size.Height, Overlay: overlay}
	if _, ok := o.(*quietButton); ok {
		n.Type = "*widget.Button" // a widget.Button to whoever looks at it
	}
	seen := area.intersect(box) // not empty: checked above
	n.CutX, n.CutY = seen.w < box.w-0.5, seen.h < box.h-0.5
	if f, ok := o.(fyne.Focusable); ok && focused != nil && f == focused {
		n.Focused = true
	}
	if d, ok := o.(fyne.Disableable); ok {
		n.Disabled = d.Disabled()
	}
	describe(o, &n)
	if n.TextW > 0 {
		n.Spill = max(0, pos.X+n.TextW-(owner.x+owner.w))
	}
	*out = append(*out, n)

	var children []fyne.CanvasObject
	switch x := o.(type) {
	case *fyne.Container:
		children = x.Objects
	case fyne.Widget:
		if r := rendererOf(x); r != nil {
			children = r.Objects()
		}
		owner = box
	}
	if _, ok := o.(*container.Scroll); ok {
		area = area.intersect(box)
	}
	for _, c := range children {
		walkInspect(c, pos, area, owner, overlay, focused, out)
	}
}

// describe fills what a person reads or sets in o.
func describe(o fyne.CanvasObject, n *InspectNode) {
	switch x := o.(type) {
	case *canvas.Text:
		n.Text, n.TextW = x.Text, x.MinSize().Width
	case *widget.Label:
		n.Text = x.Text
	case *widget.Button:
		n.Text = x.Text
	case *quietButton:
		n.Text = x.Text
	case *widget.Entry:
		n.Text, n.Hint = x.Text, x.PlaceHolder
	case *dialogEntry:
		n.Text, n.Hint = x.Text, x.PlaceHolder
	case *widget.Check:
		n.Text, n.Checked = x.Text, x.Checked
	case *widget.Select:
		n.Text, n.Hint = x.Selected, x.PlaceHolder
	case *widget.RadioGroup:
		n.Text = x.Selected
	case *widget.Slider:
		n.Value = x.Value
	case *widget.ProgressBar:
		n.Value = x.Value
	case *widget.Card:
		n.Text = x.Title
	case *widget.Hyperlink:
		n.Text = x.Text
	}
}

// rendererOf is the renderer Fyne drew w with. Fyne keeps it in an
// internal cache that only its own test package reads (test.WidgetRenderer,
// whose package init installs a test app, so it cannot be linked into the
// product); the inspector reads the same cache by name.
//
//go:linkname rendererOf fyne.io/fyne/v2/internal/cache.Renderer
func rendererOf(w fyne.Widget) fyne.WidgetRenderer
