package player

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// The player's tests and benchmarks open sealed titles here, without a
// share.Node; the product opens every title through share.Title.Open
// (share/playback), which unwraps and zeroes the key the same way.

// SealedMedia is a licensed sealed title opened for playing: the verified,
// decrypted plaintext in memory (sealed.Reader). It implements Media and
// Progressive.
type SealedMedia struct {
	*sealed.Reader
	title       string
	progressive bool
}

// Title implements Media.
func (s *SealedMedia) Title() string { return s.title }

// SetTitle sets the display name (the license's title ID by default).
func (s *SealedMedia) SetTitle(t string) { s.title = t }

// Progressive implements Progressive: true when the chunks come from a
// ChunkSource that may still be waiting for some.
func (s *SealedMedia) Progressive() bool { return s.progressive }

// Completer may be implemented by a ChunkSource that knows whether all its
// chunks are present.
type Completer interface {
	Complete() bool
}

// OpenSealed opens a licensed sealed title for playing. src is an
// io.ReaderAt over a complete sealed file, or a sealed.ChunkSource (chunks
// possibly still arriving; reads then wait). The content key is unwrapped
// in memory by license.Open (checking the directory signature, device,
// content and expiry), handed to sealed.OpenSource and zeroed at once; the
// reader's own derived key is zeroed by Close. ctx bounds waits for chunks.
func OpenSealed(ctx context.Context, src any, m *sealed.Manifest, lic *license.License, dev *identity.Identity, dirKey ed25519.PublicKey) (*SealedMedia, error) {
	var cs sealed.ChunkSource
	progressive := true
	switch s := src.(type) {
	case sealed.ChunkSource:
		cs = s
		if c, ok := s.(Completer); ok && c.Complete() {
			progressive = false
		}
	case io.ReaderAt:
		cs = sealed.FileSource(s)
		progressive = false
	default:
		return nil, fmt.Errorf("opening sealed title: source %T is neither a sealed.ChunkSource nor an io.ReaderAt", src)
	}
	key, err := license.Open(lic, dev, dirKey, m.ContentID(), time.Now())
	if err != nil {
		return nil, fmt.Errorf("opening sealed title %s: %w", lic.TitleID, err)
	}
	r, err := sealed.OpenSource(ctx, cs, m, key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("opening sealed title %s: %w", lic.TitleID, err)
	}
	return &SealedMedia{Reader: r, title: lic.TitleID, progressive: progressive}, nil
}
