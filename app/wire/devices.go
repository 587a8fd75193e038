package wire

import (
	"context"
	"errors"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/share/identity"
)

// maxListedDevices bounds the devices Settings lists: the directory caps
// an account's enrolled devices (32 by default), so more than this is a
// directory's error or its hostility, not a household.
const maxListedDevices = 256

// maxDeviceName bounds a name as shown (then "…"): names come from the directory.
const maxDeviceName = 80

// Devices implements app.Session: the account's enrolled devices from
// the directory, revoked ones left out, this device marked.
func (s *Session) Devices(ctx context.Context) ([]app.Device, error) {
	if s.Account() == "" {
		return nil, errNotSignedIn
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	ds, err := c.Devices(ctx)
	if err != nil {
		return nil, err
	}
	var me identity.ID
	if d := c.Device(); d != nil {
		me = d.ID()
	}
	out := make([]app.Device, 0, min(len(ds), maxListedDevices))
	for _, d := range ds {
		if d.Revoked || d.ID == "" {
			continue
		}
		if len(out) == maxListedDevices {
			break
		}
		out = append(out, app.Device{ID: d.ID, Name: shortName(d.Name), This: d.ID == me, Added: d.Created})
	}
	return out, nil
}

// RemoveDevice implements app.Session. This device is not removed here:
// it leaves its account with Sign out, which it can undo by signing in.
func (s *Session) RemoveDevice(ctx context.Context, id identity.ID) error {
	if s.Account() == "" {
		return errNotSignedIn
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	if d := c.Device(); d != nil && d.ID() == id {
		return errRemoveSelf
	}
	if id == "" {
		return errors.New("no device to remove")
	}
	return c.RevokeDevice(ctx, id)
}

var (
	errNotSignedIn = errors.New("this device is not signed in: sign in to see your account's devices")
	errRemoveSelf  = errors.New("this is the device you are using: use Sign out to take it out of the account")
)

// shortName makes a directory-given name fit one row (oneline.Text):
// control, bidi and line-breaking characters (a newline, U+202E, U+2028)
// as spaces, at most maxDeviceName runes and "…", so a hostile name can
// neither push the list off the screen nor draw a second line that looks
// like another device; it reads no further than the runes it keeps (a
// directory's answer may be 16 MiB, all one name).
func shortName(n string) string { return oneline.Text(n, maxDeviceName) }
