package directory_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/share/identity"
)

// hostileNames are device names that hide or disguise what they say.
var hostileNames = map[string]string{
	"right-to-left override": "Kitchen\u202Etxt.exe",
	"right-to-left mark":     "Kitchen\u200F",
	"isolates":               "a\u2066b\u2069",
	"first strong isolate":   "\u2068Kitchen",
	"arabic letter mark":     "x\u061Cy",
	"C0 escape":              "x\x1b[31my",
	"C1 control":             "x\u0085y",
	"DEL":                    "x\x7fy",
	"line separator":         "one\u2028two",
	"zero-width space":       "Kit\u200Bchen",
	"word joiner":            "Kit\u2060chen",
	"byte-order mark":        "\uFEFFKitchen",
	"soft hyphen":            "Kit\u00ADchen",
	"lone joiner":            "Kitchen \u200D",
	"joiner at the start":    "\u200DKitchen",
	"unended flag tags":      "\U0001F3F4\U000E0067\U000E0062",
	"tags without a flag":    "x\U000E0067\U000E007F",
}

// validNames are names people give devices, in several scripts, each
// accepted as written.
var validNames = []string{
	"Küche",
	"台所の iPad",
	"Ана's phone",
	"📱 Pixel 8",
	"👨‍👩‍👧 family room", // ZWJ sequence
	"❤️‍🔥 laptop",       // variation selector, ZWJ
	"لپ‌تاپ مریم",       // Persian, ZWNJ between letters
	"\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F Glasgow", // Scotland's flag
	"מחשב של דני", // Hebrew: right-to-left by its letters, no control needed
	"Wohnzimmer-PC (alt)",
}

// TestDeviceNameRefused: a directory (real TLS, real SQLite) refuses a
// device name holding a bidi control, a control or an invisible
// character with a 400 that names the character, and stores nothing; the
// client refuses the same name in the same words before sending; names
// in any script are enrolled as written, and renamed. Without
// CheckDeviceName the directory enrolled the bidi, C1, separator and
// zero-width names (it refused only Cc), and the client sent them.
func TestDeviceNameRefused(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	d.Enrolled(ctx, t, "hana", "first")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // raw requests: the server's check alone
	defer hc.CloseIdleConnections()
	for what, name := range hostileNames {
		dev, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"account": "hana", "password": "hana-password", "name": name, "keys": dev.Public()})
		req, _ := http.NewRequest("POST", "https://"+d.Addr+"/v1/devices", bytes.NewReader(body))
		id, tm, sig := directory.SignRequest(dev, "POST", "/v1/devices", time.Now().UnixMilli(), body)
		req.Header.Set(directory.HeaderDevice, id)
		req.Header.Set(directory.HeaderTime, tm)
		req.Header.Set(directory.HeaderSignature, sig)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e directory.Error
		if json.Unmarshal(b, &e) != nil || resp.StatusCode != http.StatusBadRequest || e.Code != directory.CodeBadRequest ||
			!strings.Contains(e.Message, "must not hold control, invisible or text-direction characters") {
			t.Errorf("%s %q: %d %s; want 400 naming the character", what, name, resp.StatusCode, b)
			continue
		}
		if _, err := d.Store.Device(ctx, dev.ID()); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%s: the refused device is stored: %v", what, err)
		}
		// The client refuses it in the same words, before sending: its
		// directory here is a closed port.
		c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://127.0.0.1:1", d.Server.ID()), Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		var ce *directory.Error
		if err := c.EnrollDevice(ctx, "hana", "hana-password", name); !errors.As(err, &ce) || ce.Message != e.Message || ce.Status != http.StatusBadRequest {
			t.Errorf("%s: the client's refusal %v; want the directory's %q", what, err, e.Message)
		}
	}
	for _, name := range validNames {
		c, dev := d.Enrolled(ctx, t, "hana", " "+name+" ")
		if got, err := d.Store.Device(ctx, dev.ID()); err != nil || got.Name != name {
			t.Errorf("enrolled %q: stored %+v, %v; want the name as written, trimmed", name, got, err)
			continue
		}
		if err := c.EnrollDevice(ctx, "hana", "hana-password", name+" 2"); err != nil {
			t.Errorf("renaming %q: %v", name, err)
		}
		if err := c.EnrollDevice(ctx, "hana", "hana-password", name+"\u202E2"); !errors.Is(err, &directory.Error{Code: directory.CodeBadRequest}) {
			t.Errorf("renaming %q with U+202E: %v, want refused", name, err)
		}
		if got, _ := d.Store.Device(ctx, dev.ID()); got == nil || got.Name != name+" 2" {
			t.Errorf("after the renames of %q: %+v", name, got)
		}
	}
}
