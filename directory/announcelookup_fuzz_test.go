package directory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzAnnounceLookupAnswer: an announcement's answer as the client reads
// it (JSON, the list base64 in it, then the binary list) never yields more
// than GET /v1/suppliers' bound, and a list it accepts is one the directory
// could have sent.
func FuzzAnnounceLookupAnswer(f *testing.F) {
	v2 := binCasesV2()
	for name, ss := range binCases() {
		v2[name+" v1"] = ss
	}
	for name, ss := range v2 {
		b, _ := appendSuppliersBinary(nil, ss, !strings.HasSuffix(name, " v1"))
		j, _ := json.Marshal(AnnounceAnswer{Expires: time.Unix(1e9, 0), TTLSeconds: 90, PublicIP: "192.0.2.1", SuppliersBin: b})
		f.Add(j)
	}
	f.Add([]byte(`{"expires":"2026-01-01T00:00:00Z","ttl_seconds":90,"public_ip":"192.0.2.1"}`))
	f.Add([]byte(`{"suppliers_bin":"AQ=="}`))
	f.Add([]byte(`{"suppliers_bin":"AX8AAA=="}`))
	f.Add([]byte(`{"suppliers_bin":null,"suppliers_bin":"AQEAAQ=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a announceLookupAnswer
		if json.Unmarshal(b, &a) != nil {
			return
		}
		ss, ok, err := a.suppliers()
		if a.SuppliersBin != nil {
			t.Fatal("the list stayed in the answer")
		}
		if err != nil || !ok {
			if ss != nil {
				t.Fatalf("no list (%v), yet %d suppliers", err, len(ss))
			}
			return
		}
		if len(ss) > MaxSuppliers+1 {
			t.Fatalf("%d suppliers, at most %d", len(ss), MaxSuppliers+1)
		}
		again, enc := appendSuppliersBinary(nil, ss, true)
		if !enc {
			t.Fatalf("accepted %#v, which does not encode", ss)
		}
		var r suppliersResponse
		if err := r.decodeBinary(again, MaxSuppliers+1); err != nil || fmt.Sprintf("%#v", r.Suppliers) != fmt.Sprintf("%#v", ss) {
			t.Fatalf("round trip: %v\n%#v\n%#v", err, ss, r.Suppliers)
		}
	})
}
