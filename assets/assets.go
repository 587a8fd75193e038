// Package assets embeds Kith's icon and the small demo catalog an embedded
// household directory publishes on first run. The media are made by
// gen.go (pictures drawn with image/png, tones synthesised by sox); run
// `go run assets/gen.go` from the repository root to make them again.
//
// demo/catalog.json lists the demo titles, one JSON object each:
//
//	{"file": "jingle.ogg", "name": "…", "artist": "…", "media_type": "audio/ogg",
//	 "price": 0, "currency": "EUR", "rights": "reshare"}
//
// price is in cents (0 = free) and rights is in the syntax of
// directory.ParseRights ("reshare", "none", …).
package assets

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
)

// Icon is Kith's application icon, a PNG: the window's, and the one in the
// package a device offers its neighbours (FyneApp.toml names the same file).
//
//go:embed icon.png
var Icon []byte

// Desktop is the desktop entry (a copy of packaging/kith.desktop, kept
// equal by a test) that goes in the package a device makes of itself.
//
//go:embed kith.desktop
var Desktop []byte

//go:embed demo
var demo embed.FS

// DemoTitle is one entry of the demo catalog.
type DemoTitle struct {
	File      string `json:"file"`       // name under demo/
	Name      string `json:"name"`       // title shown in the store
	Artist    string `json:"artist"`     // who made it
	MediaType string `json:"media_type"` // e.g. "audio/ogg", "image/png"
	Price     int64  `json:"price"`      // cents of Currency; 0 = free
	Currency  string `json:"currency"`   // "" = the directory's default
	Rights    string `json:"rights"`     // directory.ParseRights syntax
}

// Open returns the media of t.
func (t DemoTitle) Open() (io.Reader, error) {
	b, err := fs.ReadFile(demo, "demo/"+t.File)
	if err != nil {
		return nil, fmt.Errorf("opening demo title %q: %w", t.Name, err)
	}
	return bytes.NewReader(b), nil
}

// Demo lists the demo catalog in publishing order.
func Demo() ([]DemoTitle, error) {
	b, err := demo.ReadFile("demo/catalog.json")
	if err != nil {
		return nil, fmt.Errorf("reading demo catalog: %w", err)
	}
	var ts []DemoTitle
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&ts); err != nil {
		return nil, fmt.Errorf("parsing demo catalog: %w", err)
	}
	for _, t := range ts {
		if _, err := fs.Stat(demo, "demo/"+t.File); err != nil {
			return nil, fmt.Errorf("demo title %q: %w", t.Name, err)
		}
	}
	return ts, nil
}
