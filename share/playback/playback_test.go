package playback

import (
	"errors"
	"testing"

	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
)

// The adapters satisfy the player's interfaces.
var (
	_ player.Source    = Source{}
	_ player.Positions = Positions{}
)

// Before sign-in there is no node: opening says so in words a user can act
// on, and positions are simply absent.
func TestNoNode(t *testing.T) {
	none := NodeFunc(func() *share.Node { return nil })
	if _, err := (Source{none}).Open(t.Context(), "00"); err == nil {
		t.Fatal("opened a title with a malformed content ID")
	}
	id := "0000000000000000000000000000000000000000000000000000000000000000"
	if _, err := (Source{none}).Open(t.Context(), id); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Open without a node: got %v, want ErrNoNode", err)
	}
	if _, err := (Source{}).Open(t.Context(), id); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Open with a nil NodeFunc: got %v, want ErrNoNode", err)
	}
	if err := (Positions{none}).Save(id, 5); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Save without a node: got %v, want ErrNoNode", err)
	}
	if pos, ok, err := (Positions{none}).Load(id); pos != 0 || ok || err != nil {
		t.Fatalf("Load without a node: got %v %v %v, want nothing", pos, ok, err)
	}
}
