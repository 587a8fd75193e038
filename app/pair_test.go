package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/share/identity"
)

// fakePairState is the fake world's pairing: found directories, the code
// the "household's screen" shows, and what was saved.
type fakePairState struct {
	unpaired     bool
	found        []FoundDirectory
	code         string // the right join code
	pairedTo     identity.ID
	saved        *string
	ownHousehold bool
}

type fakePairing struct{ w *fakeWorld }

func (p fakePairing) Search(context.Context) ([]FoundDirectory, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return append([]FoundDirectory(nil), p.w.pairing.found...), nil
}

func (p fakePairing) Pair(_ context.Context, d FoundDirectory, code string) error {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	c, err := pairing.ParseCode(code)
	if err != nil {
		return err
	}
	if string(c) != p.w.pairing.code || d.Fingerprint != p.w.pairing.found[0].Fingerprint {
		return errors.New("wrong join code: check it against the household's screen and try again")
	}
	p.w.pairing.unpaired = false
	p.w.pairing.pairedTo = d.Fingerprint
	return nil
}

func (p fakePairing) StartHousehold(context.Context) error {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	p.w.pairing.unpaired = false
	p.w.pairing.ownHousehold = true
	return nil
}

func (p fakePairing) JoinCode(context.Context) (string, time.Time, error) {
	return "7KQ2M-XD4HP", time.Now().Add(10 * time.Minute), nil
}

func (p fakePairing) SaveDirectory(url string) error {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	p.w.pairing.saved = &url
	return nil
}

// The welcome screen's pairing step: find → choose → type the code →
// paired → account step; a wrong code or a look-alike directory stays on
// the pairing step.
func TestWelcomePairing(t *testing.T) {
	w := newFakeWorld()
	w.pairing = fakePairState{unpaired: true, code: "7KQ2M-XD4HP", found: []FoundDirectory{
		{Name: "Smith household", Hosts: []string{"10.0.0.2:7443"}, Fingerprint: "AAAAAAA-BBBBBBB"},
		{Name: "Smith household", Hosts: []string{"10.0.0.9:7443"}, Fingerprint: "AAAAAAA-CCCCCCC"},
	}}
	u := newTestUI(t, w)
	if u.View() != ViewWelcome || !shows(u, "pair with your household's directory") {
		t.Fatal("an unpaired device does not start on the pairing step")
	}
	if !shows(u, "Kith found 2 directories") || !shows(u, "AAAAAAA-CCCCCCC") {
		t.Fatal("the directories found are not listed with their fingerprints")
	}
	if u.win.Canvas().Focused() != u.welcome.pair.code {
		t.Fatal("the join code entry is not focused")
	}
	p := u.welcome.pair
	// The look-alike with the right code: refused.
	p.list.SetSelected(p.list.Options[1])
	test.Type(p.code, "7KQ2M-XD4HP")
	p.code.OnSubmitted(p.code.Text) // Enter
	if !shows(u, "wrong join code") || u.welcome.paired() {
		t.Fatal("pairing with the look-alike did not fail")
	}
	// The right one: paired, then the account step.
	p.list.SetSelected(p.list.Options[0])
	p.code.SetText("7kq2m xd4hp")
	test.Tap(p.pair)
	if w.pairing.pairedTo != "AAAAAAA-BBBBBBB" {
		t.Fatalf("paired to %q", w.pairing.pairedTo)
	}
	if !shows(u, "Create account") {
		t.Fatal("the account step is not shown after pairing")
	}
	signUp(t, u)
	if u.View() == ViewWelcome {
		t.Fatal("still on the welcome screen after sign-up")
	}
}

// A device among neighbours' directories may run its own household.
func TestWelcomeOwnHousehold(t *testing.T) {
	w := newFakeWorld()
	w.pairing = fakePairState{unpaired: true, found: []FoundDirectory{
		{Name: "Neighbour household", Hosts: []string{"10.0.0.2:7443"}, Fingerprint: "AAAAAAA-BBBBBBB"}}}
	u := newTestUI(t, w)
	test.Tap(u.welcome.pair.own)
	if !w.pairing.ownHousehold || !shows(u, "Create account") {
		t.Fatal("starting an own household did not lead to the account step")
	}
}

// Settings saves or forgets the directory through Pairing (directory.json),
// which the next start reads.
func TestSettingsDirectory(t *testing.T) {
	w := newFakeWorld()
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewSettings)
	s := u.settings
	s.dirURL.SetText("http://10.0.0.2:7443#AAAAAAA-BBBBBBB")
	test.Tap(s.use)
	if w.pairing.saved != nil || !shows(u, "https") {
		t.Fatal("an http:// directory was saved")
	}
	s.dirURL.SetText("https://10.0.0.2:7443")
	s.useDirectory()
	if w.pairing.saved != nil || !shows(u, "fingerprint is missing") {
		t.Fatal("a directory without fingerprint was saved")
	}
	test.Tap(s.forget)
	if w.pairing.saved == nil || *w.pairing.saved != "" {
		t.Fatal("forget did not clear the saved directory")
	}
	test.Tap(s.join.button)
	if !shows(u, "7KQ2M-XD4HP") {
		t.Fatal("Add a device shows no join code on the household's device")
	}
}
