package pairing

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Errors of the directory side; the server maps them to HTTP answers.
var (
	ErrNoCode    = errors.New("no join code is showing on the directory: show one on the household's device (or run `kith-directory pair-code`) and try again")
	ErrCodeGone  = errors.New("the join code expired or was tried too often: show a new one on the household's device")
	ErrWrongCode = errors.New("wrong join code")
)

// PairerOptions configure a Pairer.
type PairerOptions struct {
	Identity *identity.Identity // the directory's keys (required)
	// CodeFile, if set, is read for codes issued by another process
	// (`kith-directory pair-code`).
	CodeFile string
	Now      func() time.Time // nil = time.Now
	Logger   *slog.Logger
}

// Pairer is the directory side: the code showing now, its tries and the
// open sessions. It is safe for concurrent use.
type Pairer struct {
	o   PairerOptions
	pub ed25519.PublicKey

	mu       sync.Mutex
	cur      *active
	sessions map[string]*session
	tries    map[string]int // tries used per file code id (survive re-reading the file)
	fileStat fileStamp
}

type active struct {
	id      string
	key     []byte
	expires time.Time
	tries   int
	code    Code // "" for codes read from the file
	file    bool
}

type session struct {
	codeID  string
	t       []byte
	device  identity.ID
	expires time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewPairer returns a Pairer with no code showing.
func NewPairer(o PairerOptions) (*Pairer, error) {
	if o.Identity == nil {
		return nil, errors.New("pairing: Identity is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Pairer{o: o, pub: o.Identity.Public().Sign, sessions: map[string]*session{}, tries: map[string]int{}}, nil
}

// Issue makes a new join code (replacing any other) for the directory's
// own screen and returns it with its expiry.
func (p *Pairer) Issue() (Code, time.Time, error) {
	c, err := NewCode()
	if err != nil {
		return "", time.Time{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	key := Key(c, p.pub)
	p.mu.Lock()
	defer p.mu.Unlock()
	exp := p.o.Now().Add(CodeTTL)
	p.replace(&active{id: string(id), key: key, expires: exp, code: c})
	return c, exp, nil
}

// Showing returns the code issued by Issue that can still pair, if any.
func (p *Pairer) Showing() (Code, time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.cur
	if a == nil || a.code == "" || !p.live(a) {
		return "", time.Time{}, false
	}
	return a.code, a.expires, true
}

// Withdraw stops the code showing now (the user closed it).
func (p *Pairer) Withdraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.burn()
}

func (p *Pairer) live(a *active) bool {
	return a.tries < MaxTries && p.o.Now().Before(a.expires)
}

// replace makes a the current code and drops every session.
func (p *Pairer) replace(a *active) {
	p.cur = a
	clear(p.sessions)
}

// burn ends the current code; a file code's file is removed.
func (p *Pairer) burn() {
	if p.cur != nil && p.cur.file {
		p.tries[p.cur.id] = MaxTries
		if err := os.Remove(p.o.CodeFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			p.o.Logger.Warn("pairing: removing the used join code file", "err", err)
		}
	}
	p.cur = nil
	clear(p.sessions)
}

// reload picks up a code file written by another process.
func (p *Pairer) reload() {
	if p.o.CodeFile == "" {
		return
	}
	fi, err := os.Stat(p.o.CodeFile)
	if err != nil {
		return
	}
	st := fileStamp{fi.ModTime(), fi.Size()}
	if st == p.fileStat {
		return
	}
	p.fileStat = st
	fc, err := ReadCodeFile(p.o.CodeFile)
	if err != nil {
		p.o.Logger.Warn("pairing: ignoring the join code file", "err", err)
		return
	}
	if p.cur != nil && p.cur.id == fc.ID {
		return
	}
	p.replace(&active{id: fc.ID, key: fc.Key, expires: fc.Expires, tries: p.tries[fc.ID], file: true})
}

// Start opens a session for req, counting one try of the code showing.
func (p *Pairer) Start(req StartRequest) (StartAnswer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reload()
	now := p.o.Now()
	for k, s := range p.sessions {
		if !now.Before(s.expires) {
			delete(p.sessions, k)
		}
	}
	a := p.cur
	if a == nil {
		return StartAnswer{}, ErrNoCode
	}
	if !p.live(a) {
		p.burn()
		return StartAnswer{}, ErrCodeGone
	}
	if len(p.sessions) >= MaxSessions {
		return StartAnswer{}, fmt.Errorf("%w: too many pairings under way", ErrCodeGone)
	}
	a.tries++
	if a.file {
		p.tries[a.id] = a.tries
	}
	ans := StartAnswer{Session: make([]byte, SessionSize), Nonce: make([]byte, NonceSize)}
	if _, err := rand.Read(ans.Session); err != nil {
		return StartAnswer{}, err
	}
	if _, err := rand.Read(ans.Nonce); err != nil {
		return StartAnswer{}, err
	}
	p.sessions[string(ans.Session)] = &session{codeID: a.id, device: req.Device,
		t: Transcript(p.pub, req.Nonce, ans.Nonce, req.Device), expires: now.Add(SessionTTL)}
	return ans, nil
}

// Finish checks the joiner's proof; a right one burns the code and returns
// the directory's proof and the paired device.
func (p *Pairer) Finish(req FinishRequest) (FinishAnswer, identity.ID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[string(req.Session)]
	if !ok || !p.o.Now().Before(s.expires) {
		delete(p.sessions, string(req.Session))
		return FinishAnswer{}, "", fmt.Errorf("%w: no such pairing session (expired, or the code changed)", ErrCodeGone)
	}
	delete(p.sessions, string(req.Session)) // one proof per session
	a := p.cur
	if a == nil || a.id != s.codeID || !p.o.Now().Before(a.expires) {
		return FinishAnswer{}, "", ErrCodeGone
	}
	if !hmac.Equal(req.Proof, JoinerProof(a.key, s.t)) {
		if a.tries >= MaxTries && len(p.sessions) == 0 {
			p.burn()
		}
		return FinishAnswer{}, "", ErrWrongCode
	}
	ans := FinishAnswer{Proof: DirectoryProof(a.key, s.t)}
	p.burn()
	p.o.Logger.Info("pairing: a device paired with the join code", "device", s.device)
	return ans, s.device, nil
}
