package playback

import (
	"context"
	"errors"
	"time"

	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/sealed"
)

// ErrNoNode is returned while the device has no running node (not signed in yet).
var ErrNoNode = errors.New("sign in first: this device is not enrolled yet")

// NodeFunc returns the current node, or nil when there is none yet.
type NodeFunc func() *share.Node

func (f NodeFunc) node() (*share.Node, error) {
	if f == nil {
		return nil, ErrNoNode
	}
	if n := f(); n != nil {
		return n, nil
	}
	return nil, ErrNoNode
}

// Source opens library titles for the player through the node.
type Source struct{ Node NodeFunc }

// Open implements player.Source.
func (s Source) Open(ctx context.Context, id string) (player.Media, error) {
	cid, err := sealed.ParseContentID(id)
	if err != nil {
		return nil, err
	}
	n, err := s.Node.node()
	if err != nil {
		return nil, err
	}
	r, err := n.Open(ctx, cid)
	if err != nil {
		return nil, err
	}
	m := &media{Reader: r, title: id}
	if ts, err := n.Library().TitlesFor(ctx, cid); err == nil && len(ts) > 0 {
		m.title = ts[0].Name
	}
	if st, err := n.Library().Status(ctx, cid); err == nil {
		m.progressive = !st.Complete
	}
	return m, nil
}

// media is an opened sealed title; Close zeroes its keys.
type media struct {
	*sealed.Reader
	title       string
	progressive bool
}

func (m *media) Title() string     { return m.title }
func (m *media) Progressive() bool { return m.progressive }

// Positions keeps playback positions in the node's library.
type Positions struct{ Node NodeFunc }

// Save implements player.Positions.
func (p Positions) Save(id string, pos time.Duration) error {
	n, err := p.Node.node()
	if err != nil {
		return err
	}
	n.Library().SavePosition(id, pos)
	return nil
}

// Load implements player.Positions.
func (p Positions) Load(id string) (time.Duration, bool, error) {
	n, err := p.Node.node()
	if err != nil {
		return 0, false, nil
	}
	pos := n.Library().Position(id)
	return pos, pos > 0, nil
}
