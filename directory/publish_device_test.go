package directory_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// household is a directory served on loopback with accounts "home" (two
// devices) and "away" (one).
type household struct {
	srv              *directory.Server
	info             *directory.Info
	home1, home2     *directory.Client
	away             *directory.Client
	dev1, dev2, devA *identity.Identity
	origin, url      string
}

func newHousehold(t *testing.T, pol directory.PublishPolicy) *household {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "directory.key"))
	if err != nil {
		t.Fatal(err)
	}
	h := &household{origin: filepath.Join(dir, "origin")}
	h.srv, err = directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: h.origin, Publish: pol, RateAuth: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	url := directory.FormatURL("https://"+ln.Addr().String(), h.srv.ID())
	h.url = url
	client := func(account string, create bool) (*directory.Client, *identity.Identity) {
		dev, _ := identity.Generate()
		c, err := directory.NewClient(directory.ClientOptions{URL: url, Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		if create {
			if err := c.CreateAccount(ctx, account, "pass-"+account+"-word"); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.EnrollDevice(ctx, account, "pass-"+account+"-word", account+" device"); err != nil {
			t.Fatal(err)
		}
		return c, dev
	}
	h.home1, h.dev1 = client("home", true)
	h.home2, h.dev2 = client("home", false)
	h.away, h.devA = client("away", true)
	if h.info, err = h.home1.Info(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

func thumbJPEG(t *testing.T, w, hgt int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, hgt)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sealRequest seals data on the "device" and builds the publish request.
func sealRequest(t *testing.T, info *directory.Info, data []byte, name string) (*directory.PublishRequest, []byte) {
	t.Helper()
	key, err := sealed.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	m, err := sealed.Seal(&file, bytes.NewReader(data), key, sealed.Options{MediaType: "audio/mpeg"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := directory.SealKeyFor(info, key, m.ContentID())
	if err != nil {
		t.Fatal(err)
	}
	return &directory.PublishRequest{Manifest: mb, SealedKey: sk, Name: name, Artist: "Ana",
		TitleTags: directory.TitleTags{Album: "Home Album", Track: 2, Year: 2020, DurationMS: 180_000, Width: 640, Height: 360}}, key
}

func names(ts []directory.Title) string {
	var n []string
	for _, t := range ts {
		n = append(n, t.Name)
	}
	return strings.Join(n, ",")
}

func TestPublishFromDevice(t *testing.T) {
	ctx := context.Background()
	h := newHousehold(t, directory.PublishPolicy{Mode: directory.PublishOwner, Owner: "Home"})
	req, key := sealRequest(t, h.info, bytes.Repeat([]byte("song"), 100_000), "Kitchen Song")
	req.Artwork = thumbJPEG(t, 64, 64)
	req.Price = 500 // the household itself still gets it free
	pub, err := h.home1.Publish(ctx, req)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if pub.Title.Owner != "home" || pub.Title.Visibility != directory.VisibilityHousehold || pub.Title.Album != "Home Album" ||
		pub.Title.Track != 2 || !pub.Title.Artwork || pub.Title.Width != 640 || pub.Title.Height != 360 {
		t.Errorf("published title %+v", pub.Title)
	}
	m, err := sealed.ParseManifest(pub.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(h.info.Keys.Sign); err != nil {
		t.Errorf("manifest not signed by the directory: %v", err)
	}
	// Publishing again (a retry) answers the same title.
	if again, err := h.home1.Publish(ctx, req); err != nil || again.Title.ID != pub.Title.ID {
		t.Errorf("retry: %v, %+v", err, again)
	}

	// Listed to the household's devices only.
	if ts, n, err := h.home2.Titles(ctx, "home album", 1, 10); err != nil || n != 1 || ts[0].ID != pub.Title.ID {
		t.Errorf("household device sees %q (%d), %v", names(ts), n, err)
	}
	if ts, n, err := h.away.Titles(ctx, "", 1, 10); err != nil || n != 0 {
		t.Errorf("other account sees %q (%d), %v", names(ts), n, err)
	}
	anon, _ := directory.NewClient(directory.ClientOptions{URL: h.url})
	if ts, n, err := anon.Titles(ctx, "", 1, 10); err != nil || n != 0 {
		t.Errorf("anonymous sees %q (%d), %v", names(ts), n, err)
	}
	if _, err := h.away.Title(ctx, pub.Title.ID); !isNotFound(err) {
		t.Errorf("other account's Title = %v, want not found", err)
	}
	if _, err := h.away.Artwork(ctx, pub.Title.ID); !isNotFound(err) {
		t.Errorf("other account's Artwork = %v, want not found", err)
	}
	art, err := h.home2.Artwork(ctx, pub.Title.ID)
	if err != nil || !bytes.Equal(art, req.Artwork) {
		t.Errorf("household artwork: %d bytes, %v", len(art), err)
	}

	// The other account cannot register it; the household registers for free.
	sr, _ := license.SealRegistration(license.Registration{TitleID: pub.Title.ID, Account: "away"}, h.devA, h.info.Keys.Box)
	if _, err := h.away.Register(ctx, sr); !isNotFound(err) {
		t.Errorf("other account registered: %v", err)
	}
	sr, _ = license.SealRegistration(license.Registration{TitleID: pub.Title.ID, Account: "home"}, h.dev2, h.info.Keys.Box)
	reg, err := h.home2.Register(ctx, sr)
	if err != nil {
		t.Fatalf("household registration: %v", err)
	}
	if reg.Receipt.Amount != 0 {
		t.Errorf("household paid %d for its own title", reg.Receipt.Amount)
	}
	got, err := license.Open(reg.License, h.dev2, h.info.Keys.Sign, pub.Title.ContentID, time.Now())
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("license does not carry the device's content key: %v", err)
	}
	// Nothing reached the origin store.
	if ss, err := h.home2.Suppliers(ctx, pub.Title.ContentID); err != nil {
		t.Fatal(err)
	} else {
		for _, s := range ss {
			if s.Origin {
				t.Errorf("the origin is listed as a supplier of a device-published title")
			}
		}
	}
}

func TestSecurityPublishRefused(t *testing.T) {
	ctx := context.Background()
	h := newHousehold(t, directory.PublishPolicy{Mode: directory.PublishOwner, Owner: "home"})
	data := bytes.Repeat([]byte("x"), 70_000)
	cases := []struct {
		name   string
		client func() *directory.Client
		mutate func(r *directory.PublishRequest)
		want   string
	}{
		{"not the owner", func() *directory.Client { return h.away }, nil, "may not publish"},
		{"key of another file", nil, func(r *directory.PublishRequest) {
			other, _ := sealRequest(t, h.info, data, "other")
			r.SealedKey = other.SealedKey
		}, "sealed_key"},
		{"key sealed to someone else", nil, func(r *directory.PublishRequest) {
			m, _ := sealed.ParseManifest(r.Manifest)
			cid := m.ContentID()
			r.SealedKey, _ = identity.SealTo(h.dev1.Public().Box, make([]byte, 32), cid[:])
		}, "sealed_key"},
		{"wrong key, right box", nil, func(r *directory.PublishRequest) {
			m, _ := sealed.ParseManifest(r.Manifest)
			r.SealedKey, _ = directory.SealKeyFor(h.info, make([]byte, 32), m.ContentID())
		}, "not the key"},
		{"artwork not a JPEG", nil, func(r *directory.PublishRequest) { r.Artwork = []byte("<svg/>") }, "artwork"},
		{"artwork too large", nil, func(r *directory.PublishRequest) { r.Artwork = thumbJPEG(t, 2000, 10) }, "artwork"},
		{"album too long", nil, func(r *directory.PublishRequest) { r.Album = strings.Repeat("é", 201) }, "album"},
		{"control characters", nil, func(r *directory.PublishRequest) { r.Name = "a\x1b[31mb" }, "printable"},
		{"bidi override", nil, func(r *directory.PublishRequest) { r.Name = "Lullaby\u202Eplm.exe" }, "printable"},
		{"isolate in the artist", nil, func(r *directory.PublishRequest) { r.Artist = "\u2067Anon" }, "printable"},
		{"line separator in the album", nil, func(r *directory.PublishRequest) { r.Album = "one\u2028two" }, "printable"},
		{"track out of range", nil, func(r *directory.PublishRequest) { r.Track = -1 }, "track"},
		{"width out of range", nil, func(r *directory.PublishRequest) { r.Width = 16385 }, "width"},
		{"width without height", nil, func(r *directory.PublishRequest) { r.Height = 0 }, "width"},
		{"garbage manifest", nil, func(r *directory.PublishRequest) { r.Manifest = []byte("KITH") }, "manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := sealRequest(t, h.info, data, "Song")
			if c.mutate != nil {
				c.mutate(req)
			}
			cl := h.home1
			if c.client != nil {
				cl = c.client()
			}
			_, err := cl.Publish(ctx, req)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Publish = %v, want an error about %q", err, c.want)
			}
		})
	}
	if ts, n, _ := h.home1.Titles(ctx, "", 1, 10); n != 0 {
		t.Errorf("refused publications listed: %q", names(ts))
	}

	// Off: nobody publishes; turned on for every account at run time.
	if err := h.srv.SetPublishPolicy(directory.PublishPolicy{}); err != nil {
		t.Fatal(err)
	}
	req, _ := sealRequest(t, h.info, data, "Song")
	if _, err := h.home1.Publish(ctx, req); err == nil || !strings.Contains(err.Error(), "off") {
		t.Errorf("publish with the policy off: %v", err)
	}
	if err := h.srv.SetPublishPolicy(directory.PublishPolicy{Mode: directory.PublishAccounts}); err != nil {
		t.Fatal(err)
	}
	req.Public = true
	pub, err := h.away.Publish(ctx, req)
	if err != nil {
		t.Fatalf("any account publishing: %v", err)
	}
	if ts, n, _ := h.home1.Titles(ctx, "", 1, 10); n != 1 || ts[0].ID != pub.Title.ID {
		t.Errorf("a public title is not listed to another account: %q", names(ts))
	}
	if err := h.srv.SetPublishPolicy(directory.PublishPolicy{Mode: "everyone"}); err == nil {
		t.Error("unknown publish mode accepted")
	}
}

func isNotFound(err error) bool {
	var e *directory.Error
	return errors.As(err, &e) && e.Status == 404
}
