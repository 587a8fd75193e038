package directory

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestRegisteredEncoding: the answer writeRegistered frames around the
// license's stored encoding is byte for byte what writeJSON makes of the
// whole answer (headers included), and it decodes back to the same.
func TestRegisteredEncoding(t *testing.T) {
	dir, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var c sealed.ContentID
	_, _ = rand.Read(c[:])
	lic, err := license.Issue(dir, license.License{ContentID: c, TitleID: "t<1>&", Device: dev.ID(), Account: "alice",
		Rights: license.Rights{Reshare: true}, IssuedAt: time.Now().UTC(), Issuer: dir.ID()}, dev.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(lic)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range []Receipt{
		{PurchaseID: "p_1", TitleID: "t<1>&", Account: "alice", Amount: 199, Currency: "EUR", CardBrand: "visa",
			CardLast4: "4242", Supplier: dev.ID(), Time: time.Now().UTC()},
		{PurchaseID: "p_2", TitleID: "free \u2028 title", Account: "bob", Time: time.Unix(0, 0).UTC()},
	} {
		res := &Registered{License: lic, Receipt: rc, encLicense: enc}
		fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
		writeRegistered(fast, res)
		writeJSON(slow, 200, res)
		if !bytes.Equal(fast.Body.Bytes(), slow.Body.Bytes()) {
			t.Errorf("writeRegistered:\n%s\nwriteJSON:\n%s", fast.Body.Bytes(), slow.Body.Bytes())
		}
		for _, h := range []string{"Content-Type", "Content-Length"} {
			if f, s := fast.Header().Get(h), slow.Header().Get(h); f != s {
				t.Errorf("%s: %q, writeJSON %q", h, f, s)
			}
		}
		if fast.Code != slow.Code {
			t.Errorf("status %d, writeJSON %d", fast.Code, slow.Code)
		}
		var back Registered
		if err := json.Unmarshal(fast.Body.Bytes(), &back); err != nil || back.License.ID != lic.ID ||
			!bytes.Equal(back.License.Signature, lic.Signature) || back.Receipt.PurchaseID != rc.PurchaseID {
			t.Errorf("answer decodes to %+v, %v", back, err)
		}
	}
}
