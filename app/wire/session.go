package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
)

// Session implements app.Session over a directory client, remembering the
// account in the data folder's "account" file.
type Session struct {
	data datadir.Dir
	// OnSignedIn is called (once per sign-in, on the caller's goroutine)
	// after the device is enrolled, e.g. to tell the node its account.
	OnSignedIn func(account string)
	// Leave takes the device out of account at the directory when it signs
	// out (the running node's LeaveAccount, so it stops acting for the
	// account too); nil: the directory client's LeaveAccount.
	Leave func(ctx context.Context, account string) error

	mu      sync.Mutex
	c       *directory.Client // nil until paired
	info    app.DirectoryInfo
	account string
}

// NewSession reads the remembered account from dataDir. c is nil while
// the device is not paired with a directory: SignUp and SignIn then send
// nothing and return ErrNotPaired.
func NewSession(c *directory.Client, info app.DirectoryInfo, dataDir string) (*Session, error) {
	s := &Session{c: c, info: info, data: datadir.Dir(dataDir)}
	a, err := s.data.LoadAccount()
	if err != nil {
		return nil, err
	}
	s.account = a
	return s, nil
}

// Directory implements app.Session; its URL is "" until paired.
func (s *Session) Directory() app.DirectoryInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// attach starts using c, the directory just paired with.
func (s *Session) attach(c *directory.Client, info app.DirectoryInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c, s.info = c, info
}

// client is the paired directory's client, or ErrNotPaired.
func (s *Session) client() (*directory.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil, ErrNotPaired
	}
	return s.c, nil
}

// Account implements app.Session.
func (s *Session) Account() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// SetAccount records account as this device's (e.g. learned from Whois).
func (s *Session) SetAccount(account string) error {
	s.mu.Lock()
	s.account = account
	s.mu.Unlock()
	return s.data.SaveAccount(account)
}

// SignUp implements app.Session.
func (s *Session) SignUp(ctx context.Context, account, password, device string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	// A name the directory would refuse is refused before the account is
	// made: otherwise the account stood, and signing up again with another
	// password said its name was taken.
	if _, err := directory.CheckDeviceName(device); err != nil {
		return err
	}
	if err := c.CreateAccount(ctx, account, password); err != nil {
		return err
	}
	// the directory answers a creation the same whether the name was free
	// or taken (so it does not tell strangers which names exist): a taken
	// name with another password shows here, as a failed sign-in
	if err := s.SignIn(ctx, account, password, device); err != nil {
		if errors.Is(err, &directory.Error{Code: directory.CodeUnauthorized}) {
			return fmt.Errorf("the account name %q is taken (or its password differs): choose another name, or sign in", account)
		}
		return err
	}
	return nil
}

// SignIn implements app.Session.
func (s *Session) SignIn(ctx context.Context, account, password, device string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := c.EnrollDevice(ctx, account, password, device); err != nil {
		if errors.Is(err, &directory.Error{Code: directory.CodeConflict}) {
			return fmt.Errorf("this device still belongs to another account (or was revoked): sign out of it first (Settings → Sign out): %w", err)
		}
		return err
	}
	if err := s.SetAccount(account); err != nil {
		return err
	}
	if s.OnSignedIn != nil {
		s.OnSignedIn(account)
	}
	return nil
}

// SignOut implements app.Session: the device leaves its account at the
// directory (and the node stops acting for it), then forgets it. Nothing
// changes when the directory cannot be told.
func (s *Session) SignOut(ctx context.Context) error {
	account := s.Account()
	if account == "" {
		return nil
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	leave := s.Leave
	if leave == nil {
		leave = c.LeaveAccount
	}
	if err := leave(ctx, account); err != nil {
		return fmt.Errorf("signing out: %w", err)
	}
	return s.SetAccount("")
}
