package relay

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// FuzzMessage feeds hostile bytes to everything that parses what a relay,
// a supplier or an asker receives: frames, invitations, results, tickets.
func FuzzMessage(f *testing.F) {
	id, _ := identity.Generate()
	inv := (&invite{asker: id.ID(), addr: "192.0.2.1:4000"}).marshal()
	tk, _ := SignTicket(id, Ticket{Asker: id.ID(), Supplier: id.ID(), Expires: time.UnixMilli(1e12)})
	for _, seed := range [][]byte{
		append([]byte{msgInvite, 0, byte(len(inv))}, inv...),
		append([]byte{msgConnect, 0, byte(len(tk))}, tk...),
		{msgResult, 0, 3, 4, 'h', 'i'},
		{msgPing, 0, 0},
		append([]byte{msgPunch, 0, 19}, punchBody(200*time.Millisecond, "198.51.100.7:40000")...),
		{msgResult, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, err := readFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(body) > maxBody {
			t.Fatalf("body of %d bytes accepted", len(body))
		}
		switch typ {
		case msgInvite:
			if v, err := parseInvite(body); err == nil && !v.asker.Valid() {
				t.Fatalf("invite with asker %q accepted", v.asker)
			}
		case msgResult:
			parseResult(body)
		case msgPunch:
			if d, ap, err := parsePunch(body); err == nil && (d > 10*time.Second || !ap.IsValid() || ap.Port() == 0) {
				t.Fatalf("punch %v %v accepted", d, ap)
			}
		case msgConnect:
			if tk, _, _, _, err := parseTicket(body); err == nil && (!tk.Asker.Valid() || !tk.Supplier.Valid()) {
				t.Fatal("ticket with invalid ids parsed")
			}
			VerifyTicket(body, id.ID(), time.UnixMilli(1e12-1000))
		}
	})
}
