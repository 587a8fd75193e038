package app

import (
	"fmt"
	"image/color"
	"math"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/sealed"
)

var (
	colIn   = color.NRGBA{0x2e, 0xa0, 0x5a, 0xff} // peers supplying us
	colOut  = color.NRGBA{0xf0, 0x8c, 0x28, 0xff} // peers we supply
	colSelf = accent
)

// swarmScreen draws the devices exchanging one title with us: this device
// in the middle, peers around it, an edge per transfer whose width follows
// its rate (green: they supply us; orange: we supply them).
type swarmScreen struct {
	u      *UI
	obj    fyne.CanvasObject
	pick   *widget.Select
	opts   []sealed.ContentID
	graph  *swarmGraph
	info   *widget.Label
	mu     sync.Mutex // follow is read by the refresh goroutine
	follow sealed.ContentID
	has    bool
	naming bool
}

func newSwarmScreen(u *UI) *swarmScreen {
	s := &swarmScreen{u: u}
	s.pick = widget.NewSelect(nil, func(string) {
		if s.naming {
			return
		}
		if i := s.pick.SelectedIndex(); i >= 0 && i < len(s.opts) {
			s.setFollow(s.opts[i])
			u.mark(areaLibrary)
		}
	})
	s.pick.PlaceHolder = "Choose a download or a title you serve"
	s.graph = newSwarmGraph()
	s.info = widget.NewLabel("")
	legend := container.NewHBox(swatch(colIn, "supplying you"), swatch(colOut, "you supply"))
	top := container.NewVBox(container.NewBorder(nil, nil, heading("Swarm"), legend), s.pick, s.info)
	s.obj = container.NewBorder(top, nil, nil, nil, s.graph)
	return s
}

func swatch(c color.Color, label string) fyne.CanvasObject {
	r := canvas.NewRectangle(c)
	r.SetMinSize(fyne.NewSize(18, 6))
	return container.NewHBox(container.NewCenter(r), widget.NewLabel(label))
}

func (s *swarmScreen) setFollow(c sealed.ContentID) {
	s.mu.Lock()
	s.follow, s.has = c, true
	s.mu.Unlock()
}

// follow makes c the title drawn.
func (s *swarmScreen) followTitle(c sealed.ContentID) { s.setFollow(c) }

// current is the title drawn; safe from any goroutine.
func (s *swarmScreen) current() (sealed.ContentID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.follow, s.has
}

func (s *swarmScreen) shown() { s.u.mark(areaLibrary) }

// apply updates the picker (downloads first, at most 50) and the drawing.
func (s *swarmScreen) apply(items []Item, sw Swarm) {
	cur, has := s.current()
	var opts []sealed.ContentID
	var names []string
	add := func(it Item) {
		opts = append(opts, it.Content)
		names = append(names, fmt.Sprintf("%s (%s)", byArtist(it.Name, it.Artist), it.State))
	}
	for _, it := range items {
		if len(opts) < 50 && (it.State == StateDownloading || it.State == StatePaused) {
			add(it)
		}
	}
	for _, it := range items {
		if has && it.Content == cur && !containsID(opts, cur) {
			add(it)
		}
	}
	if !has && len(opts) > 0 {
		cur, has = opts[0], true
		s.setFollow(cur)
		s.u.mark(areaLibrary) // load its swarm
	}
	s.opts = opts
	s.naming = true
	s.pick.SetOptions(names)
	for i, c := range opts {
		if has && c == cur {
			s.pick.SetSelectedIndex(i)
		}
	}
	s.naming = false
	if has && sw.Content == cur {
		in, out := 0.0, 0.0
		for _, l := range sw.Links {
			if l.Incoming {
				in += l.Rate
			} else {
				out += l.Rate
			}
		}
		s.info.SetText(fmt.Sprintf("%s · receiving %s · sending %s", count(len(sw.Links), "device"), rateText(in), rateText(out)))
		s.graph.SetSwarm(sw)
	} else if !has {
		s.info.SetText("Nothing is moving right now. Start a download, or pick a title in Library and choose “Show swarm”.")
		s.graph.SetSwarm(Swarm{})
	}
}

func containsID(cs []sealed.ContentID, c sealed.ContentID) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// swarmGraph is the custom drawing.
type swarmGraph struct {
	widget.BaseWidget
	sw Swarm
}

func newSwarmGraph() *swarmGraph {
	g := &swarmGraph{}
	g.ExtendBaseWidget(g)
	return g
}

// SetSwarm draws sw.
func (g *swarmGraph) SetSwarm(sw Swarm) {
	g.sw = sw
	g.Refresh()
}

func (g *swarmGraph) MinSize() fyne.Size { return fyne.NewSize(320, 260) }

func (g *swarmGraph) CreateRenderer() fyne.WidgetRenderer {
	r := &swarmRenderer{g: g}
	r.rebuild()
	return r
}

type swarmRenderer struct {
	g    *swarmGraph
	objs []fyne.CanvasObject
	// per link: edge, node, label; then self node and label
	edges  []*canvas.Line
	nodes  []*canvas.Circle
	labels []*canvas.Text
	self   *canvas.Circle
	selfL  *canvas.Text
	size   fyne.Size
}

func (r *swarmRenderer) rebuild() {
	fg := theme.Color(theme.ColorNameForeground)
	r.objs = r.objs[:0]
	r.edges, r.nodes, r.labels = nil, nil, nil
	for _, l := range r.g.sw.Links {
		c := colOut
		if l.Incoming {
			c = colIn
		}
		e := canvas.NewLine(c)
		e.StrokeWidth = edgeWidth(l.Rate)
		n := canvas.NewCircle(c)
		n.StrokeColor = fg
		n.StrokeWidth = 1
		name := l.Name
		if name == "" {
			name = l.Peer.Short()
		}
		t := canvas.NewText(fmt.Sprintf("%s  %s", name, rateText(l.Rate)), fg)
		t.TextSize = 12
		t.Alignment = fyne.TextAlignCenter
		r.edges = append(r.edges, e)
		r.nodes = append(r.nodes, n)
		r.labels = append(r.labels, t)
	}
	for _, e := range r.edges {
		r.objs = append(r.objs, e)
	}
	for i := range r.nodes {
		r.objs = append(r.objs, r.nodes[i], r.labels[i])
	}
	r.self = canvas.NewCircle(colSelf)
	r.selfL = canvas.NewText("This device", fg)
	r.selfL.TextStyle.Bold = true
	r.selfL.Alignment = fyne.TextAlignCenter
	if r.g.sw.Title != "" {
		r.selfL.Text = "This device · " + r.g.sw.Title
	}
	r.objs = append(r.objs, r.self, r.selfL)
}

// edgeWidth grows with the log of the rate: 1 px idle, ~10 px at 100 MB/s.
func edgeWidth(rate float64) float32 {
	if rate <= 1024 {
		return 1.5
	}
	return float32(1.5 + 1.2*math.Log10(rate/1024))
}

func (r *swarmRenderer) Layout(size fyne.Size) {
	r.size = size
	cx, cy := size.Width/2, size.Height/2
	rad := min(size.Width, size.Height)/2 - 48
	if rad < 40 {
		rad = 40
	}
	n := len(r.edges)
	for i := range n {
		a := 2*math.Pi*float64(i)/float64(n) - math.Pi/2
		x := cx + rad*float32(math.Cos(a))
		y := cy + rad*float32(math.Sin(a))
		r.edges[i].Position1 = fyne.NewPos(cx, cy)
		r.edges[i].Position2 = fyne.NewPos(x, y)
		const d = 22
		r.nodes[i].Position1 = fyne.NewPos(x-d/2, y-d/2)
		r.nodes[i].Position2 = fyne.NewPos(x+d/2, y+d/2)
		ts := r.labels[i].MinSize()
		ly := y + d/2 + 2
		if y < cy {
			ly = y - d/2 - ts.Height - 2
		}
		r.labels[i].Move(fyne.NewPos(x-ts.Width/2, ly))
		r.labels[i].Resize(ts)
	}
	const d = 40
	r.self.Position1 = fyne.NewPos(cx-d/2, cy-d/2)
	r.self.Position2 = fyne.NewPos(cx+d/2, cy+d/2)
	ts := r.selfL.MinSize()
	r.selfL.Move(fyne.NewPos(cx-ts.Width/2, cy+d/2+4))
	r.selfL.Resize(ts)
}

func (r *swarmRenderer) MinSize() fyne.Size { return r.g.MinSize() }

func (r *swarmRenderer) Refresh() {
	r.rebuild()
	r.Layout(r.size)
	for _, o := range r.objs {
		o.Refresh()
	}
}

func (r *swarmRenderer) Objects() []fyne.CanvasObject { return r.objs }

func (r *swarmRenderer) Destroy() {}
