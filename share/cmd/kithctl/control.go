package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/player/av"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// Status is GET /status.
type Status struct {
	Device    identity.ID `json:"device"`
	Name      string      `json:"name"`
	Account   string      `json:"account"`
	Addr      string      `json:"addr"`     // the peer server's listening address (":7143" is [::]:7143)
	LANAddr   string      `json:"lan_addr"` // the address another device adds this one at (share.Node.LANAddr)
	Directory identity.ID `json:"directory"`
	Holdings  []Holding   `json:"holdings"`
}

// Holding is one content in the device's library.
type Holding struct {
	Content  sealed.ContentID `json:"content"`
	Title    string           `json:"title,omitempty"`
	Name     string           `json:"name,omitempty"`
	Have     int              `json:"have"`
	Total    int              `json:"total"`
	Size     int64            `json:"size"`
	Complete bool             `json:"complete"`
	Licensed bool             `json:"licensed"`
	Policy   string           `json:"policy"`
}

// TitleRow is one catalog title with what this device holds of it.
type TitleRow struct {
	directory.Title
	Have     int  `json:"have"`
	Chunks   int  `json:"chunks"`
	Licensed bool `json:"licensed"`
}

// KeyInfo describes a license held by the device (never the key).
type KeyInfo struct {
	License string           `json:"license"`
	Content sealed.ContentID `json:"content"`
	Title   string           `json:"title"`
	Device  identity.ID      `json:"device"`
	Account string           `json:"account"`
	Issued  time.Time        `json:"issued"`
	Reshare bool             `json:"reshare"`
}

// Request is the body of the POST commands (each uses some fields).
type Request struct {
	Account   string           `json:"account,omitempty"`
	Password  string           `json:"password,omitempty"`
	Name      string           `json:"name,omitempty"`
	Target    string           `json:"target,omitempty"` // content ID, title ID or title name
	From      []string         `json:"from,omitempty"`
	Neighbour string           `json:"neighbour,omitempty"`
	Title     string           `json:"title,omitempty"`
	Mode      string           `json:"mode,omitempty"`
	Allow     []string         `json:"allow,omitempty"`
	Deny      []string         `json:"deny,omitempty"`
	Seconds   float64          `json:"seconds,omitempty"`
	Payment   *license.Payment `json:"payment,omitempty"`
	Paths     []string         `json:"paths,omitempty"`  // publish: absolute files and folders
	Price     int64            `json:"price,omitempty"`  // publish: cents
	Rights    string           `json:"rights,omitempty"` // publish: directory.ParseRights form
	Public    bool             `json:"public,omitempty"` // publish: listed to everyone
}

// Line is one line of a streamed answer (fetch, play).
type Line struct {
	Done     bool          `json:"done,omitempty"`
	Error    string        `json:"error,omitempty"`
	Content  string        `json:"content,omitempty"`
	Have     int           `json:"have,omitempty"`
	Total    int           `json:"total,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	Rate     float64       `json:"rate,omitempty"`
	Sources  []SourceLine  `json:"sources,omitempty"`
	Fault    string        `json:"fault,omitempty"`
	State    string        `json:"state,omitempty"`
	Title    string        `json:"title,omitempty"`
	Position time.Duration `json:"position,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Files    int           `json:"files,omitempty"`     // publish: files to add
	FileSize int64         `json:"file_size,omitempty"` // publish: size of the file being added
	Size     int64         `json:"size,omitempty"`      // publish: bytes of every file
	Added    *Published    `json:"added,omitempty"`     // publish: one title added
	Video    *av.Stats     `json:"video,omitempty"`     // play: a video's presentation counts, on the last line
}

// Published is the line kithctl publish prints per title.
type Published struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Artist   string `json:"artist"`
	Album    string `json:"album"`
	Track    int    `json:"track,omitempty"`
	Path     string `json:"path"`
	Existing bool   `json:"existing,omitempty"` // added before: the same title
}

// SourceLine is one source of a download.
type SourceLine struct {
	ID     identity.ID `json:"id"`
	Origin bool        `json:"origin,omitempty"`
	Bytes  int64       `json:"bytes"`
	State  string      `json:"state"`
}

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	get := func(path string, f func(*http.Request) (any, error)) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			v, err := f(r)
			reply(w, v, err)
		})
	}
	post := func(path string, f func(context.Context, Request) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			var req Request
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				reply(w, nil, badRequest("decoding request: %v", err))
				return
			}
			v, err := f(r.Context(), req)
			reply(w, v, err)
		})
	}
	get("/status", func(r *http.Request) (any, error) { return d.status(r.Context()) })
	get("/titles", func(r *http.Request) (any, error) { return d.titles(r.Context(), r.URL.Query().Get("q")) })
	get("/suppliers", func(r *http.Request) (any, error) { return d.suppliers(r.Context(), r.URL.Query().Get("title")) })
	get("/neighbours", func(r *http.Request) (any, error) { return d.current().Neighbours(), nil })
	post("/neighbours/add", d.addNeighbour)
	post("/neighbours/remove", d.removeNeighbour)
	get("/offers", func(r *http.Request) (any, error) { return d.offers(r.Context(), r.URL.Query().Get("neighbour")) })
	post("/signup", d.signup)
	post("/signin", d.signin)
	post("/signout", d.signout)
	post("/buy", d.buy)
	post("/register-via", d.registerVia)
	post("/getkey", d.getKey)
	post("/policy", d.policy)
	mux.HandleFunc("POST /fetch", func(w http.ResponseWriter, r *http.Request) { d.stream(w, r, d.fetch) })
	mux.HandleFunc("POST /play", func(w http.ResponseWriter, r *http.Request) { d.stream(w, r, d.play) })
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) { d.stream(w, r, d.publish) })
	return mux
}

// reply writes v as JSON, or the error.
func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusInternalServerError
		var ae *apiError
		var de *directory.Error
		switch {
		case errors.As(err, &ae):
			status = ae.status
		case errors.As(err, &de) && de.Status >= 400 && de.Status < 500:
			status = de.Status
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	_ = json.NewEncoder(w).Encode(v)
}

// stream runs f, which sends Lines, and ends the answer with a done or
// error line.
func (d *daemon) stream(w http.ResponseWriter, r *http.Request, f func(context.Context, Request, func(Line)) error) {
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		reply(w, nil, badRequest("decoding request: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(l Line) {
		_ = enc.Encode(l)
		if fl != nil {
			fl.Flush()
		}
	}
	if err := f(r.Context(), req, send); err != nil {
		send(Line{Error: err.Error()})
		return
	}
	send(Line{Done: true})
}

func (d *daemon) status(ctx context.Context) (*Status, error) {
	n := d.current()
	d.mu.Lock()
	st := &Status{Device: n.ID(), Name: d.cfg.name, Account: d.account, Addr: n.Addr(), LANAddr: n.LANAddr(), Directory: d.dir.Fingerprint(), Holdings: []Holding{}}
	d.mu.Unlock()
	held, err := n.Library().HeldContent(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range held {
		row := Holding{Content: h.ContentID, Have: h.Have, Total: h.Total, Size: h.Size, Complete: h.Complete}
		if len(h.Titles) > 0 {
			row.Title, row.Name = h.Titles[0].ID, h.Titles[0].Name
		}
		if _, err := n.Library().License(ctx, h.ContentID); err == nil {
			row.Licensed = true
		}
		if p, err := n.Library().ContentPolicy(ctx, h.ContentID); err == nil {
			row.Policy = p.Mode
		}
		st.Holdings = append(st.Holdings, row)
	}
	return st, nil
}

func (d *daemon) titles(ctx context.Context, q string) ([]TitleRow, error) {
	ts, _, err := d.dir.Titles(ctx, q, 1, 100)
	if err != nil {
		return nil, err
	}
	lib := d.current().Library()
	out := make([]TitleRow, 0, len(ts))
	for _, t := range ts {
		row := TitleRow{Title: t}
		if s, err := lib.Status(ctx, t.ContentID); err == nil {
			row.Have, row.Chunks = s.Have, s.Total
		}
		if _, err := lib.License(ctx, t.ContentID); err == nil {
			row.Licensed = true
		}
		out = append(out, row)
	}
	return out, nil
}

// resolve finds the catalog title named by s (content ID, title ID or
// name) and records it in the library, so held content has its title.
func (d *daemon) resolve(ctx context.Context, s string) (*directory.Title, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, badRequest("no title or content given")
	}
	var found *directory.Title
	cid, cerr := sealed.ParseContentID(s)
	if cerr != nil {
		if t, err := d.dir.Title(ctx, s); err == nil {
			found = t
		}
	}
	if found == nil {
		q := s
		if cerr == nil {
			q = ""
		}
		for page := 1; found == nil; page++ {
			ts, total, err := d.dir.Titles(ctx, q, page, 100)
			if err != nil {
				return nil, fmt.Errorf("looking up %q in the catalog: %w", s, err)
			}
			for i := range ts {
				if (cerr == nil && ts[i].ContentID == cid) || strings.EqualFold(ts[i].Name, s) || ts[i].ID == s {
					found = &ts[i]
					break
				}
			}
			if len(ts) == 0 || page*100 >= total {
				break
			}
		}
	}
	if found == nil {
		return nil, &apiError{http.StatusNotFound, fmt.Sprintf("no title %q in the catalog", s)}
	}
	err := d.current().Library().PutTitle(ctx, library.Title{ID: found.ID, Name: found.Name, Artist: found.Artist,
		MediaType: found.MediaType, ContentID: found.ContentID, Size: found.Size})
	return found, err
}

// neighbour finds a device by ID, first ID group or name: among LAN and
// manual neighbours, then among the directory's suppliers of cid.
func (d *daemon) neighbour(ctx context.Context, s string, cid *sealed.ContentID) (share.Neighbour, error) {
	n := d.current()
	match := func(id identity.ID, name string) bool {
		if pid, err := identity.ParseID(s); err == nil && pid == id {
			return true
		}
		return strings.EqualFold(id.Short(), s) || (name != "" && strings.EqualFold(name, s))
	}
	for _, nb := range n.Neighbours() {
		if match(nb.ID, nb.Name) {
			return nb, nil
		}
	}
	if cid != nil {
		if sups, err := d.dir.Suppliers(ctx, *cid); err == nil {
			for _, sp := range sups {
				if !sp.Origin && match(sp.Device, "") {
					return share.Neighbour{ID: sp.Device, Addrs: sp.Addrs}, nil
				}
			}
		}
	}
	return share.Neighbour{}, &apiError{http.StatusNotFound, fmt.Sprintf("no neighbour %q: not seen on the LAN and not named by the directory", s)}
}

func (d *daemon) suppliers(ctx context.Context, title string) ([]directory.Supplier, error) {
	t, err := d.resolve(ctx, title)
	if err != nil {
		return nil, err
	}
	return d.dir.Suppliers(ctx, t.ContentID)
}

// addNeighbour adds a neighbour by hand (share.Node.AddNeighbour: the
// device at the address must prove its key and be enrolled with the
// directory).
func (d *daemon) addNeighbour(ctx context.Context, r Request) (any, error) {
	if r.Neighbour == "" {
		return nil, badRequest("neighbours add needs HOST:PORT")
	}
	nb, err := d.current().AddNeighbour(ctx, r.Neighbour)
	if errors.Is(err, share.ErrBadNeighbourAddr) {
		return nil, badRequest("%v", err)
	}
	return nb, err
}

func (d *daemon) removeNeighbour(ctx context.Context, r Request) (any, error) {
	err := d.current().RemoveNeighbour(ctx, r.Neighbour)
	if errors.Is(err, share.ErrNoHandNeighbour) {
		return nil, &apiError{http.StatusNotFound, err.Error()}
	}
	return nil, err
}

func (d *daemon) offers(ctx context.Context, s string) ([]peer.Offer, error) {
	nb, err := d.neighbour(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	return d.current().Offers(ctx, nb)
}

func (d *daemon) signup(ctx context.Context, r Request) (any, error) {
	if r.Account == "" || r.Password == "" {
		return nil, badRequest("signup needs an account and a password")
	}
	return nil, d.dir.CreateAccount(ctx, r.Account, r.Password)
}

func (d *daemon) signin(ctx context.Context, r Request) (any, error) {
	if r.Account == "" || r.Password == "" {
		return nil, badRequest("signin needs an account and a password")
	}
	name := r.Name
	if name == "" {
		name = d.cfg.name
	}
	if err := d.dir.EnrollDevice(ctx, r.Account, r.Password, name); err != nil {
		// Enrolling twice is fine if the device already belongs to the account.
		dev, werr := d.dir.Whois(ctx, d.id.ID())
		switch {
		case werr == nil && !dev.Revoked && dev.Account != "" && dev.Account != r.Account:
			return nil, fmt.Errorf("this device is enrolled under %q: run kithctl signout first (%w)", dev.Account, err)
		case werr != nil || dev.Account != r.Account || dev.Revoked:
			return nil, fmt.Errorf("enrolling device: %w", err)
		}
	}
	if err := d.setAccount(r.Account); err != nil {
		return nil, err
	}
	return map[string]string{"device": string(d.id.ID()), "account": r.Account}, nil
}

// signout takes the device out of its account at the directory (so it
// can sign in as another) and forgets the account; the node goes on
// serving, signed out.
func (d *daemon) signout(ctx context.Context, _ Request) (any, error) {
	if err := d.current().LeaveAccount(ctx); err != nil {
		return nil, err
	}
	if err := d.setAccount(""); err != nil {
		return nil, err
	}
	return map[string]string{"device": string(d.id.ID())}, nil
}

func (d *daemon) buy(ctx context.Context, r Request) (any, error) {
	t, err := d.resolve(ctx, r.Target)
	if err != nil {
		return nil, err
	}
	reg, err := d.current().Buy(ctx, t.ID, r.Payment)
	if err != nil {
		return nil, err
	}
	return reg.Receipt, nil
}

func (d *daemon) registerVia(ctx context.Context, r Request) (any, error) {
	t, err := d.resolve(ctx, r.Target)
	if err != nil {
		return nil, err
	}
	nb, err := d.neighbour(ctx, r.Neighbour, &t.ContentID)
	if err != nil {
		return nil, err
	}
	reg, err := d.current().RegisterVia(ctx, nb, t.ID, r.Payment)
	if err != nil {
		return nil, err
	}
	return reg.Receipt, nil
}

func (d *daemon) getKey(ctx context.Context, r Request) (any, error) {
	t, err := d.resolve(ctx, r.Target)
	if err != nil {
		return nil, err
	}
	l, err := d.current().GetKey(ctx, t.ContentID, r.Payment)
	if err != nil {
		return nil, err
	}
	return KeyInfo{License: l.ID, Content: l.ContentID, Title: l.TitleID, Device: l.Device, Account: l.Account,
		Issued: l.IssuedAt, Reshare: l.Rights.Reshare}, nil
}

func (d *daemon) policy(ctx context.Context, r Request) (any, error) {
	id := ""
	if r.Title != "default" {
		t, err := d.resolve(ctx, r.Title)
		if err != nil {
			return nil, err
		}
		id = t.ID
	}
	p := directory.Policy{Mode: r.Mode, Allow: r.Allow, Deny: r.Deny}
	if err := p.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	return nil, d.current().SetPolicy(ctx, id, p)
}

// fetch downloads the target's ciphertext, streaming progress.
func (d *daemon) fetch(ctx context.Context, r Request, send func(Line)) error {
	t, err := d.resolve(ctx, r.Target)
	if err != nil {
		return err
	}
	var from []share.Neighbour
	for _, s := range r.From {
		nb, err := d.neighbour(ctx, s, &t.ContentID)
		if err != nil {
			return err
		}
		from = append(from, nb)
	}
	events, cancel := d.subscribe()
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.current().Fetch(ctx, t.ContentID, from...) }()
	var last peer.Progress
	line := func(p peer.Progress) Line {
		l := Line{Content: t.ContentID.String(), Title: t.Name, Have: p.Have, Total: p.Total, Bytes: p.Bytes, Rate: p.Rate}
		for _, s := range p.Sources {
			l.Sources = append(l.Sources, SourceLine{ID: s.ID, Origin: s.Origin, Bytes: s.Bytes, State: s.State})
		}
		return l
	}
	var faults []string
	handle := func(e peer.Event) {
		if e.ContentID != t.ContentID {
			return
		}
		switch e.Kind {
		case peer.EventProgress, peer.EventDone:
			if len(e.Progress.Sources) > 0 || e.Progress.Total > 0 {
				last = e.Progress
			}
			send(line(e.Progress))
		case peer.EventFault:
			if e.Fault != nil {
				f := fmt.Sprintf("source %s: %v", e.Fault.Source.Short(), e.Fault.Err)
				faults = append(faults, f)
				send(Line{Content: t.ContentID.String(), Fault: f})
			}
		}
	}
	for {
		select {
		case err := <-done:
			for drained := false; !drained; { // events sent before Fetch returned
				select {
				case e := <-events:
					handle(e)
				default:
					drained = true
				}
			}
			if err != nil {
				faults = append(faults, d.refusals(ctx, t.ContentID, from)...)
				if len(faults) > 0 {
					return fmt.Errorf("%w; %s", err, strings.Join(faults, "; "))
				}
				return err
			}
			st, serr := d.current().Library().Status(ctx, t.ContentID)
			if serr == nil {
				last.Have, last.Total = st.Have, st.Total
			}
			send(line(last))
			return nil
		case e := <-events:
			handle(e)
		}
	}
}

// refusals explains a failed fetch from named devices: which of them do
// not offer the content to us (a peer answers 403 alike for content it
// does not hold and content its owner's policy keeps from us).
func (d *daemon) refusals(ctx context.Context, cid sealed.ContentID, from []share.Neighbour) []string {
	var out []string
	for _, nb := range from {
		offers, err := d.current().Offers(ctx, nb)
		if err != nil {
			out = append(out, fmt.Sprintf("device %s refused us: %v", nb.ID.Short(), err))
			continue
		}
		offered := false
		for _, o := range offers {
			offered = offered || o.Content == cid
		}
		if !offered {
			out = append(out, fmt.Sprintf("device %s refused us: it does not offer %s to this device (its owner's share policy, or it does not hold it)", nb.ID.Short(), cid.String()[:16]))
		}
	}
	return out
}
