package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/lan"
)

// ErrNotPaired is returned by every call that would send something to a
// directory before this device paired with one.
var ErrNotPaired = errors.New("this device is not paired with a directory yet: choose your household's directory and type the join code its screen shows")

// Pairing implements app.Pairing for the device: finding directories on
// the LAN, pairing with one by join code, saving or forgetting it, and
// (on the device that runs the household directory) showing join codes.
type Pairing struct {
	k *Kith
}

// Pairing returns the device's app.Pairing.
func (k *Kith) Pairing() *Pairing { return &Pairing{k: k} }

// Search implements app.Pairing: every directory announced on the LAN
// within the configured wait (at least 2 s), each with all its addresses.
func (p *Pairing) Search(ctx context.Context) ([]app.FoundDirectory, error) {
	if p.k.cfg.NoLAN {
		return nil, errors.New("looking on the network is off (--no-lan): start with --directory URL#FINGERPRINT")
	}
	return SearchLAN(ctx, max(p.k.cfg.LANWait, 2*time.Second), nil, p.k.log)
}

// SearchLAN browses for _kith-dir._tcp for wait and lists every directory
// seen (unauthenticated claims, for the user to choose from).
func SearchLAN(ctx context.Context, wait time.Duration, ifaces []string, log *slog.Logger) ([]app.FoundDirectory, error) {
	b, err := lan.NewBrowser(lan.BrowserOptions{Kind: lan.Directory, IPv4Only: true, Interfaces: ifaces, Logger: log,
		QueryTimeout: min(wait/3, time.Second)})
	if err != nil {
		return nil, fmt.Errorf("looking for directories: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for ctx.Err() == nil {
		q := min(wait/3, time.Second)
		if dl, ok := ctx.Deadline(); ok {
			q = min(q, time.Until(dl))
		}
		if q <= 0 {
			break
		}
		if err := b.Round(ctx, q); err != nil && ctx.Err() == nil {
			log.Debug("directory search round", "err", err)
		}
	}
	var out []app.FoundDirectory
	for _, n := range b.Neighbours() {
		id, err := identity.ParseID(n.Fingerprint)
		if err != nil || len(n.Addrs) == 0 {
			continue
		}
		d := app.FoundDirectory{Name: n.Name, Fingerprint: id}
		for _, a := range n.Addrs {
			d.Hosts = append(d.Hosts, a.String())
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b app.FoundDirectory) int {
		if a.Name != b.Name {
			return cmpString(a.Name, b.Name)
		}
		return cmpString(string(a.Fingerprint), string(b.Fingerprint))
	})
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Pair implements app.Pairing: it runs the join-code protocol against each
// announced address of d in turn (an address whose TLS key is not d's
// fingerprint is skipped before anything derived from the code is sent),
// and on success saves d and starts using it.
func (p *Pairing) Pair(ctx context.Context, d app.FoundDirectory, typed string) error {
	code, err := pairing.ParseCode(typed)
	if err != nil {
		return err
	}
	if (d.Fingerprint != "" && !d.Fingerprint.Valid()) || len(d.Hosts) == 0 {
		return errors.New("pairing: choose a directory from the list, or type its address")
	}
	var errs []error
	for _, h := range d.Hosts {
		url, err := pairing.AddressURL(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fp, err := pairing.Join(ctx, pairing.JoinOptions{URL: url, Fingerprint: d.Fingerprint, Code: code, Device: p.k.Device.ID()})
		var re *pairing.RemoteError
		if errors.As(err, &re) || errors.Is(err, pairing.ErrNotDirectory) {
			return err // the right key answered: do not spend more tries
		}
		if err != nil {
			p.k.log.Info("pairing: skipping an address", "addr", h, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", h, err))
			continue
		}
		name := d.Name
		if name == "" {
			name = p.k.directoryName(ctx, url, fp)
		}
		return p.k.attach(ctx, Joined{URL: url, Fingerprint: fp, Name: name, FoundOnLAN: true, Paired: true})
	}
	if d.Fingerprint == "" {
		return fmt.Errorf("pairing: %w", errors.Join(errs...))
	}
	return fmt.Errorf("pairing with %s: no address answered with its key: %w", d.Fingerprint.Short(), errors.Join(errs...))
}

// directoryName asks a just-paired directory its name (best effort).
func (k *Kith) directoryName(ctx context.Context, url string, fp identity.ID) string {
	c, err := directory.NewClient(directory.ClientOptions{URL: url, Fingerprint: fp, Logger: k.log})
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return ""
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, info.Name)
	if len(name) > 64 {
		name = name[:64]
	}
	return strings.ToValidUTF8(name, "")
}

// StartHousehold implements app.Pairing: the user chose to run a
// household directory on this computer rather than join one found.
func (p *Pairing) StartHousehold(ctx context.Context) error {
	k := p.k
	k.mu.Lock()
	running := k.runningHousehold != nil
	k.mu.Unlock()
	if running {
		return errors.New("this computer already runs its household directory")
	}
	h, err := OpenHousehold(ctx, HouseholdOptions{DataDir: k.cfg.DataDir, Addr: k.cfg.HouseholdAddr,
		Name: k.cfg.DeviceName + " household", LAN: !k.cfg.NoLAN, Logger: k.log})
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.runningHousehold = h
	k.mu.Unlock()
	k.late <- h // Serve runs it
	return k.attach(ctx, h.Joined())
}

// JoinCode implements app.Pairing on the device running the household
// directory.
func (p *Pairing) JoinCode(ctx context.Context) (string, time.Time, error) {
	p.k.mu.Lock()
	h := p.k.runningHousehold
	p.k.mu.Unlock()
	if h == nil {
		return "", time.Time{}, errors.New("this device does not run the household directory: show the code on the one that does")
	}
	c, exp, err := h.srv.Pairer().Issue()
	return string(c), exp, err
}

// SaveDirectory implements app.Pairing.
func (p *Pairing) SaveDirectory(v string) error {
	if v == "" {
		err := os.Remove(datadir.Dir(p.k.cfg.DataDir).DirectoryFile())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forgetting the directory: %w", err)
		}
		return nil
	}
	base, fp, err := directory.ParseURL(v)
	if err != nil {
		return err
	}
	if fp == "" {
		return errMissingFingerprint(v)
	}
	return SaveJoined(p.k.cfg.DataDir, Joined{URL: base, Fingerprint: fp})
}

func errMissingFingerprint(v string) error {
	return fmt.Errorf("directory %s has no fingerprint: give it as https://host:port#FINGERPRINT "+
		"(`kith-directory fingerprint` on the directory's machine prints it), or pair from the welcome screen", v)
}

// attach starts using a directory this device just paired with.
func (k *Kith) attach(ctx context.Context, j Joined) error {
	client, err := directory.NewClient(directory.ClientOptions{URL: j.URL, Fingerprint: j.Fingerprint, Device: k.Device, Logger: k.log})
	if err != nil {
		return err
	}
	if err := SaveJoined(k.cfg.DataDir, j); err != nil {
		return err
	}
	if err := k.Adapter.SetDirectory(client); err != nil {
		return err
	}
	k.mu.Lock()
	k.Joined = j
	k.mu.Unlock()
	k.Session.attach(client, infoOf(j))
	k.log.Info("paired with the directory", "url", j.URL, "fingerprint", j.Fingerprint)
	k.learnAccount(ctx, client)
	return nil
}

func infoOf(j Joined) app.DirectoryInfo {
	info := app.DirectoryInfo{Name: j.Name, URL: j.URL, Fingerprint: j.Fingerprint, Embedded: j.Embedded, FoundOnLAN: j.FoundOnLAN}
	if info.Name == "" {
		info.Name = "Kith directory"
	}
	return info
}
