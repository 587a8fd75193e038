package playback

import (
	"context"
	"time"

	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/sealed"
)

// Source opens library titles for the player through the node.
type Source struct{ Node *share.Node }

// Open implements player.Source.
func (s Source) Open(ctx context.Context, id string) (player.Media, error) {
	cid, err := sealed.ParseContentID(id)
	if err != nil {
		return nil, err
	}
	n := s.Node
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
type Positions struct{ Node *share.Node }

// Save implements player.Positions.
func (p Positions) Save(id string, pos time.Duration) error {
	p.Node.Library().SavePosition(id, pos)
	return nil
}

// Load implements player.Positions.
func (p Positions) Load(id string) (time.Duration, bool, error) {
	pos := p.Node.Library().Position(id)
	return pos, pos > 0, nil
}
