package player

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/pulsetest"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// sealedTitle is a title sealed and licensed to a device, all in memory.
type sealedTitle struct {
	file   []byte
	m      *sealed.Manifest
	lic    *license.License
	dev    *identity.Identity
	dirPub ed25519.PublicKey
	key    []byte // a copy, only for tests that scan for it
}

var (
	idOnce   sync.Once
	dirID    *identity.Identity
	deviceID *identity.Identity
)

func identities(t testing.TB) (*identity.Identity, *identity.Identity) {
	idOnce.Do(func() {
		var err error
		if dirID, err = identity.Generate(); err != nil {
			panic(err)
		}
		if deviceID, err = identity.Generate(); err != nil {
			panic(err)
		}
	})
	return dirID, deviceID
}

// sealTitle seals plain and issues a license for it.
func sealTitle(t testing.TB, titleID string, plain []byte, mediaType string, chunkSize int) *sealedTitle {
	t.Helper()
	_, dev := identities(t)
	key, err := sealed.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	m, err := sealed.Seal(&file, bytes.NewReader(plain), key, sealed.Options{ChunkSize: chunkSize, MediaType: mediaType})
	if err != nil {
		t.Fatal(err)
	}
	st := licenseFor(t, titleID, m, key, dev)
	st.file = file.Bytes()
	return st
}

// licenseFor signs m as the directory and issues dev a license for it.
func licenseFor(t testing.TB, titleID string, m *sealed.Manifest, key []byte, dev *identity.Identity) *sealedTitle {
	t.Helper()
	dir, _ := identities(t)
	m.Sign(dir.SigningKey())
	lic, err := license.Issue(dir, license.License{ContentID: m.ContentID(), TitleID: titleID, Account: "alice"}, dev.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return &sealedTitle{m: m, lic: lic, dev: dev, dirPub: dir.Public().Sign, key: append([]byte(nil), key...)}
}

// sealedSource opens sealed titles with OpenSealed, through an optional
// chunk source wrapper (latency, damage).
type sealedSource struct {
	titles map[string]*sealedTitle
	wrap   func(sealed.ChunkSource) sealed.ChunkSource
}

func (s *sealedSource) Open(ctx context.Context, id string) (Media, error) {
	st, ok := s.titles[id]
	if !ok {
		return nil, fmt.Errorf("no title %s", id)
	}
	var src any = bytes.NewReader(st.file)
	if s.wrap != nil {
		src = s.wrap(sealed.FileSource(bytes.NewReader(st.file)))
	}
	return OpenSealed(ctx, src, st.m, st.lic, st.dev, st.dirPub)
}

// latencySource delays every chunk (a neighbour's link), to model titles
// not yet held locally.
type latencySource struct {
	src   sealed.ChunkSource
	delay time.Duration
}

func (l latencySource) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	select {
	case <-time.After(l.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return l.src.ReadChunk(ctx, i, dst)
}

// damagedSource flips a byte in one chunk, like a tampered copy.
type damagedSource struct {
	src sealed.ChunkSource
	bad int
}

func (d damagedSource) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	b, err := d.src.ReadChunk(ctx, i, dst)
	if err == nil && i == d.bad {
		b[len(b)/2] ^= 0x40
	}
	return b, err
}

// TestSealedPlay plays a licensed sealed title and rejects a license for
// another device.
func TestSealedPlay(t *testing.T) {
	st := sealTitle(t, "t1", toneWAV(rate, 500*time.Millisecond, 1000), "audio/wav", 16<<10)
	src := &sealedSource{titles: map[string]*sealedTitle{"t1": st}}
	p, out, ev := newTest(t, src, nil)
	p.Play("t1")
	ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
	if f := pulsetest.Dominant(out.samples(), rate, 440, 1000); f != 1000 {
		t.Errorf("dominant %v, want 1000", f)
	}

	other, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenSealed(context.Background(), bytes.NewReader(st.file), st.m, st.lic, other, st.dirPub)
	if !errors.Is(err, license.ErrWrongDevice) {
		t.Errorf("other device: %v, want ErrWrongDevice", err)
	}
}

// TestDamagedMidPlay: a tampered chunk stops playback with a clear error,
// and nothing after the damaged chunk is heard.
func TestDamagedMidPlay(t *testing.T) {
	const cs = 32 << 10
	const bad = 4
	plain := toneWAV(rate, 2*time.Second, 440)
	st := sealTitle(t, "t1", plain, "audio/wav", cs)
	src := &sealedSource{titles: map[string]*sealedTitle{"t1": st},
		wrap: func(s sealed.ChunkSource) sealed.ChunkSource { return damagedSource{src: s, bad: bad} }}
	p, out, ev := newTest(t, src, nil)
	p.Play("t1")
	e := ev.wait(t, 30*time.Second, "error", func(e Event) bool { return e.Kind == EventError })
	var ce *sealed.ChunkError
	if !errors.As(e.Err, &ce) || ce.Index != bad || !strings.Contains(e.Err.Error(), "damaged content") {
		t.Fatalf("error %v, want a ChunkError for chunk %d worded as damaged content", e.Err, bad)
	}
	ev.wait(t, 30*time.Second, "state error", isState(StateError))
	time.Sleep(200 * time.Millisecond)
	var heard time.Duration
	for _, s := range pulsetest.Segments(out.samples(), rate, 0.05, 5*time.Millisecond) {
		if s.Sound {
			heard += s.Duration(rate)
		}
	}
	limit := time.Duration(bad*cs-44) / 4 * time.Second / rate
	if heard > limit+5*time.Millisecond {
		t.Errorf("heard %v of audio, but the damaged chunk starts at %v", heard, limit)
	}
	if heard < limit/2 {
		t.Errorf("heard only %v before the damaged chunk at %v", heard, limit)
	}
}
