package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// The fakes below share one fakeWorld: a catalog, this device's library, a
// few neighbours and a player, all in memory.

type fakeWorld struct {
	mu        sync.Mutex
	account   string
	accounts  map[string]string // account → password
	me        identity.ID
	titles    []directory.Title
	items     []Item
	ns        []fakeNeighbour
	at        map[string]fakeNeighbour // devices answering at an address, not listed until added by hand (Add)
	policy    directory.Policy
	sharing   bool
	uploads   []Upload
	install   InstallOffer
	installed int    // Install calls (reading the offer makes the package)
	discovery string // LAN discovery problem, "" when it works
	st        PlayerState
	queue     []sealed.ContentID
	keys      []uint64 // the queue items' keys, beside queue
	lastKey   uint64
	pos       int
	subs      map[area][]func()
	pairing   fakePairState

	dir *DirectoryInfo // the directory the session reports; nil = the embedded household

	videoOut VideoOut // where the fake player's video frames go (SetVideoOut)

	// Address calls, and those made on the UI goroutine (inside fyne.Do):
	// it reads the interfaces' addresses, which must not hold up the UI.
	addressCalls, addressOnUI int

	// injected failures
	titlesErr, buyErr, itemsErr, playErr, signUpErr, signOutErr, signInErr, fetchErr error
	devicesErr, removeErr                                                            error

	devices  []Device // the account's other devices (this one is listed first by Devices)
	removed  []identity.ID
	devCalls int // Devices calls
}

type fakeNeighbour struct {
	Neighbour
	holds []fakeHolding
	err   error
}

type fakeHolding struct {
	title  directory.Title
	policy directory.Policy
}

func cid(i int) sealed.ContentID {
	var c sealed.ContentID
	c[0], c[1], c[2] = byte(i>>16), byte(i>>8), byte(i)
	return c
}

var demoTitles = []directory.Title{
	{ID: "t1", Name: "Kith Jingle", Artist: "Kith Household Band", MediaType: "audio/ogg", Rights: license.Rights{Reshare: true}, Size: 9400},
	{ID: "t2", Name: "Concert A (440 Hz)", Artist: "Tuning Fork Ensemble", MediaType: "audio/ogg", Size: 9300},
	{ID: "t3", Name: "Evening Bells", Artist: "Kith Household Band", MediaType: "audio/ogg", Price: 199, Currency: "EUR", Size: 25000},
	{ID: "t4", Name: "Harbour at Dusk", Artist: "Pixel Harbour", MediaType: "image/png", Size: 5200},
}

func newFakeWorld() *fakeWorld {
	w := &fakeWorld{accounts: map[string]string{}, me: "MEMEMEM-DEVICE", sharing: true, subs: map[area][]func(){}}
	for i, t := range demoTitles {
		t.ContentID = cid(i + 1)
		w.titles = append(w.titles, t)
	}
	w.st.Volume = 0.8
	return w
}

func (w *fakeWorld) changed(a area) {
	w.mu.Lock()
	fns := append([]func(){}, w.subs[a]...)
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func (w *fakeWorld) subscribe(a area, fn func()) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs[a] = append(w.subs[a], fn)
	i := len(w.subs[a]) - 1
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.subs[a][i] = func() {}
	}
}

func (w *fakeWorld) backend() Backend {
	return Backend{Session: fakeSession{w}, Pairing: fakePairing{w}, Catalog: fakeCatalog{w}, Library: fakeLibrary{w},
		Neighbours: fakeNeighbours{w}, Sharing: fakeSharing{w}, Player: fakePlayer{w}, Video: fakePlayer{w}}
}

type fakeSession struct{ w *fakeWorld }

func (s fakeSession) Directory() DirectoryInfo {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.pairing.unpaired {
		return DirectoryInfo{}
	}
	if s.w.dir != nil {
		return *s.w.dir
	}
	return DirectoryInfo{Name: "Household", URL: "https://127.0.0.1:7443", Fingerprint: "ABCDEFG-HIJKLMN-OPQRSTU", Embedded: true}
}
func (s fakeSession) Account() string {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.account
}
func (s fakeSession) SignUp(_ context.Context, account, password, device string) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.signUpErr != nil {
		return s.w.signUpErr
	}
	if _, ok := s.w.accounts[account]; ok {
		return &directory.Error{Status: 409, Code: directory.CodeConflict, Message: fmt.Sprintf("account %q already exists", account)}
	}
	s.w.accounts[account] = password
	s.w.account = account
	return nil
}
func (s fakeSession) SignIn(_ context.Context, account, password, device string) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.signInErr != nil {
		return s.w.signInErr
	}
	if p, ok := s.w.accounts[account]; !ok || p != password {
		return &directory.Error{Status: 401, Code: directory.CodeUnauthorized, Message: "wrong account or password"}
	}
	s.w.account = account
	return nil
}

func (s fakeSession) SignOut(context.Context) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.signOutErr != nil {
		return s.w.signOutErr
	}
	s.w.account = ""
	return nil
}

func (s fakeSession) Devices(context.Context) ([]Device, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.devCalls++
	if s.w.devicesErr != nil {
		return nil, s.w.devicesErr
	}
	if s.w.account == "" {
		return nil, errors.New("not signed in")
	}
	return append([]Device{{ID: s.w.me, Name: "test-host", This: true, Added: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}}, s.w.devices...), nil
}

func (s fakeSession) RemoveDevice(_ context.Context, id identity.ID) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.removeErr != nil {
		return s.w.removeErr
	}
	for i, d := range s.w.devices {
		if d.ID == id {
			s.w.devices = append(s.w.devices[:i], s.w.devices[i+1:]...)
			s.w.removed = append(s.w.removed, id)
			return nil
		}
	}
	return &directory.Error{Status: 404, Code: directory.CodeNotFound, Message: "no such device"}
}

type fakeCatalog struct{ w *fakeWorld }

func (c fakeCatalog) Titles(_ context.Context, q string, page, per int) ([]directory.Title, int, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if c.w.titlesErr != nil {
		return nil, 0, c.w.titlesErr
	}
	var out []directory.Title
	for _, t := range c.w.titles {
		if q == "" || strings.Contains(strings.ToLower(t.Name+" "+t.Artist), strings.ToLower(q)) {
			out = append(out, t)
		}
	}
	total := len(out)
	lo := min(total, (page-1)*per)
	return out[lo:min(total, lo+per)], total, nil
}

func (c fakeCatalog) Buy(_ context.Context, t directory.Title, pay *license.Payment) (*directory.Receipt, error) {
	c.w.mu.Lock()
	if c.w.buyErr != nil {
		err := c.w.buyErr
		c.w.mu.Unlock()
		return nil, err
	}
	if t.Price > 0 && pay == nil {
		c.w.mu.Unlock()
		return nil, &directory.Error{Status: 402, Code: directory.CodeCardInvalid, Message: "payment required"}
	}
	rc := &directory.Receipt{PurchaseID: "p-" + t.ID, TitleID: t.ID, Account: c.w.account, Amount: t.Price, Currency: t.Currency, Time: time.Now()}
	if pay != nil {
		rc.CardBrand, rc.CardLast4 = "Visa", pay.Card[len(pay.Card)-4:]
	}
	c.w.items = append(c.w.items, Item{Content: t.ContentID, TitleID: t.ID, Name: t.Name, Artist: t.Artist,
		MediaType: t.MediaType, Size: t.Size, Have: t.Size, State: StateOwned, Added: time.Now()})
	c.w.mu.Unlock()
	c.w.changed(areaLibrary)
	return rc, nil
}

type fakeLibrary struct{ w *fakeWorld }

func (l fakeLibrary) Items(context.Context) ([]Item, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	if l.w.itemsErr != nil {
		return nil, l.w.itemsErr
	}
	return append([]Item(nil), l.w.items...), nil
}
func (l fakeLibrary) GetKey(_ context.Context, c sealed.ContentID, pay *license.Payment) (*directory.Receipt, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	for i := range l.w.items {
		if l.w.items[i].Content == c {
			l.w.items[i].State = StateOwned
			return &directory.Receipt{PurchaseID: "key", Account: l.w.account, Time: time.Now()}, nil
		}
	}
	return nil, errors.New("not held")
}
func (l fakeLibrary) Suppliers(context.Context, sealed.ContentID) ([]directory.Supplier, error) {
	return []directory.Supplier{{Device: "NEIGHBO-UR", Account: "next-door", SameLAN: true, RTT: 2}, {Origin: true}}, nil
}
func (l fakeLibrary) Fetch(context.Context, sealed.ContentID, identity.ID) error {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.fetchErr
}
func (l fakeLibrary) Swarm(c sealed.ContentID) Swarm {
	return Swarm{Content: c, Title: "x", Links: []Link{{Name: "attic", Incoming: true, Rate: 2 << 20}, {Name: "kitchen", Rate: 300 << 10}}}
}
func (l fakeLibrary) Changes(fn func()) func() { return l.w.subscribe(areaLibrary, fn) }

type fakeNeighbours struct{ w *fakeWorld }

func (n fakeNeighbours) Discovery() string {
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	return n.w.discovery
}

func (n fakeNeighbours) Neighbours() []Neighbour {
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	var out []Neighbour
	for _, x := range n.w.ns {
		out = append(out, x.Neighbour)
	}
	return out
}

// Offer filters the neighbour's holdings with the same rule a real peer
// server applies (directory.Policy.Allows), so a restricted title never
// reaches the screen.
func (n fakeNeighbours) Offer(_ context.Context, id identity.ID) ([]Offer, error) {
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	for _, x := range n.w.ns {
		if x.ID != id {
			continue
		}
		if x.err != nil {
			return nil, x.err
		}
		var out []Offer
		for _, h := range x.holds {
			if h.policy.Allows(x.Account, n.w.me, n.w.account) {
				out = append(out, Offer{Title: h.title, Complete: true})
			}
		}
		if len(out) == 0 && len(x.holds) > 0 {
			return nil, fmt.Errorf("offer from %s: %w", x.Name, ErrRestricted)
		}
		return out, nil
	}
	return nil, errors.New("no such neighbour")
}
func (n fakeNeighbours) FetchFrom(_ context.Context, id identity.ID, o Offer, mode FetchMode, _ *license.Payment) error {
	n.w.mu.Lock()
	st := StateOwned
	if mode == FetchCiphertext {
		st = StateLocked
	}
	n.w.items = append(n.w.items, Item{Content: o.Title.ContentID, Name: o.Title.Name, Artist: o.Title.Artist, State: st, Size: 10, Have: 10})
	n.w.mu.Unlock()
	n.w.changed(areaLibrary)
	return nil
}
func (n fakeNeighbours) Changes(fn func()) func() { return n.w.subscribe(areaNeighbours, fn) }

// Add adds the fake world's device at addr (w.at), as the node adds the
// device that proves itself there.
func (n fakeNeighbours) Add(_ context.Context, addr string) (Neighbour, error) {
	n.w.mu.Lock()
	x, ok := n.w.at[addr]
	if !ok {
		n.w.mu.Unlock()
		return Neighbour{}, fmt.Errorf("adding neighbour %s: no Kith device answers there", addr)
	}
	x.ByHand, x.Addr = true, addr
	n.w.ns = append(n.w.ns, x)
	n.w.mu.Unlock()
	n.w.changed(areaNeighbours)
	return x.Neighbour, nil
}

func (n fakeNeighbours) Address() string {
	onUI := onUIGoroutine()
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	n.w.addressCalls++
	if onUI {
		n.w.addressOnUI++
	}
	return "192.168.1.5:7143"
}

// onUIGoroutine reports whether the caller runs inside fyne.Do: on the UI
// goroutine in production (the test driver runs fyne.Do's func inline,
// and the UI hands every snapshot and tap result to the widgets with it).
func onUIGoroutine() bool {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		if f.Function == "fyne.io/fyne/v2.Do" {
			return true
		}
		if !more {
			return false
		}
	}
}

func (n fakeNeighbours) Remove(_ context.Context, id identity.ID) error {
	n.w.mu.Lock()
	for i, x := range n.w.ns {
		if x.ID == id && x.ByHand {
			n.w.ns = append(n.w.ns[:i], n.w.ns[i+1:]...)
			n.w.mu.Unlock()
			n.w.changed(areaNeighbours)
			return nil
		}
	}
	n.w.mu.Unlock()
	return fmt.Errorf("removing neighbour %s: not added by hand", id)
}

type fakeSharing struct{ w *fakeWorld }

func (s fakeSharing) Enabled() bool { s.w.mu.Lock(); defer s.w.mu.Unlock(); return s.w.sharing }
func (s fakeSharing) SetEnabled(_ context.Context, on bool) error {
	s.w.mu.Lock()
	s.w.sharing = on
	s.w.mu.Unlock()
	s.w.changed(areaSharing)
	return nil
}
func (s fakeSharing) DefaultPolicy() directory.Policy {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.policy
}
func (s fakeSharing) SetDefaultPolicy(_ context.Context, p directory.Policy) error {
	s.w.mu.Lock()
	s.w.policy = p
	s.w.mu.Unlock()
	s.w.changed(areaSharing)
	return nil
}
func (s fakeSharing) SetPolicy(_ context.Context, c sealed.ContentID, p directory.Policy) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	for i := range s.w.items {
		if s.w.items[i].Content == c {
			s.w.items[i].Policy = p
		}
	}
	return nil
}
func (s fakeSharing) Uploads() []Upload {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return append([]Upload(nil), s.w.uploads...)
}
func (s fakeSharing) Supplied() int64 {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	var n int64
	for _, u := range s.w.uploads {
		n += u.Bytes
	}
	return n
}
func (s fakeSharing) Install() InstallOffer {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.installed++
	return s.w.install
}
func (s fakeSharing) Changes(fn func()) func() { return s.w.subscribe(areaSharing, fn) }

type fakePlayer struct{ w *fakeWorld }

func (p fakePlayer) Play(_ context.Context, q []sealed.ContentID, start int) error {
	p.w.mu.Lock()
	if p.w.playErr != nil {
		defer p.w.mu.Unlock()
		return p.w.playErr
	}
	p.w.queue, p.w.keys, p.w.pos = nil, nil, start
	p.insertLocked(0, q)
	p.loadLocked()
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
	return nil
}

func (p fakePlayer) loadLocked() {
	c := p.w.queue[p.w.pos]
	for _, it := range p.w.items {
		if it.Content == c {
			p.w.st = PlayerState{Content: c, Title: it.Name, Artist: it.Artist, MediaType: it.MediaType,
				Playing: true, Duration: 4 * time.Second, Volume: p.w.st.Volume, Queue: p.w.st.Queue, Index: p.w.pos}
			p.w.st.Video = strings.HasPrefix(it.MediaType, "video/")
			if strings.HasPrefix(it.MediaType, "image/") {
				img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
				img.Set(1, 1, color.White)
				p.w.st.Image, p.w.st.Playing, p.w.st.Duration = img, false, 0
			}
		}
	}
}

func (p fakePlayer) TogglePause() {
	p.w.mu.Lock()
	p.w.st.Playing = !p.w.st.Playing
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}
func (p fakePlayer) move(d int) {
	p.w.mu.Lock()
	if i := p.w.pos + d; i >= 0 && i < len(p.w.queue) {
		p.w.pos = i
		p.loadLocked()
	}
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}
func (p fakePlayer) Next()     { p.move(1) }
func (p fakePlayer) Previous() { p.move(-1) }
func (p fakePlayer) Seek(d time.Duration) {
	p.w.mu.Lock()
	p.w.st.Position = d
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}
func (p fakePlayer) SetVolume(v float64) {
	p.w.mu.Lock()
	p.w.st.Volume = v
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}
func (p fakePlayer) State() PlayerState {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return p.w.st
}
func (p fakePlayer) Changes(fn func()) func() { return p.w.subscribe(areaPlayer, fn) }
func (p fakePlayer) SetVideoOut(out VideoOut) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	p.w.videoOut = out
}
