package playback

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
)

// The adapters satisfy the player's interfaces.
var (
	_ player.Source    = Source{}
	_ player.Positions = Positions{}
)

// A node that has not paired or signed in yet (built once, at start)
// refuses what it does not hold and keeps positions in its library.
func TestBareNode(t *testing.T) {
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	n, err := share.NewNode(share.Options{DataDir: t.TempDir(), Identity: dev, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := (Source{n}).Open(t.Context(), "00"); err == nil {
		t.Fatal("opened a title with a malformed content ID")
	}
	id := "0000000000000000000000000000000000000000000000000000000000000000"
	if _, err := (Source{n}).Open(t.Context(), id); err == nil {
		t.Fatal("opened a title the node does not hold")
	}
	if pos, ok, err := (Positions{n}).Load(id); pos != 0 || ok || err != nil {
		t.Fatalf("Load of a title never played: got %v %v %v, want nothing", pos, ok, err)
	}
	if err := (Positions{n}).Save(id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if pos, ok, err := (Positions{n}).Load(id); pos != 5*time.Second || !ok || err != nil {
		t.Fatalf("Load after Save: got %v %v %v, want 5s", pos, ok, err)
	}
}
