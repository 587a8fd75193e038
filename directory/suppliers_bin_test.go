package directory

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// binCases are supplier lists the binary form must carry exactly.
func binCases() map[string][]Supplier {
	cases := map[string][]Supplier{
		"empty": {},
		"two": {
			{Device: "ABC", Account: "alice", Addrs: []string{"198.51.100.1:7000", "[2001:db8::1]:7000"}, Complete: true, SameLAN: true, RTT: 20, Load: 3, Score: 1},
			{Device: "DIR", Addrs: []string{}, Origin: true, Complete: true, Score: 0.5},
		},
		"null addrs, negative rtt and load": {{Device: "X", RTT: -4, Load: -7, Score: 1}},
		"reach and relay":                   {{Device: "X", Addrs: []string{}, Score: 1, Reach: ReachRelayed, Relay: "198.51.100.9:7400"}},
		"other scores": {{Device: "A", Addrs: []string{}, Score: 0.3}, {Device: "B", Addrs: []string{}, Score: 1e-7},
			{Device: "C", Addrs: []string{}, Score: 2.0 / 3}, {Device: "D", Score: -0.5}},
		"big numbers": {{Device: "D", Addrs: []string{""}, RTT: math.MaxInt64, Load: math.MinInt64, Score: 1}},
		"long strings": {{Device: identity.ID(strings.Repeat("I", 300)), Account: strings.Repeat("a", 200),
			Addrs: []string{strings.Repeat("h", MaxAddrLen), "~ !#"}, Score: 1}},
	}
	all := make([]string, MaxAddrs)
	for i := range all {
		all[i] = fmt.Sprintf("198.51.100.%d:7000", i)
	}
	cases["MaxAddrs addresses"] = []Supplier{{Device: "M", Addrs: all, Score: 1}}
	for _, n := range []int{1, 16, 17, MaxSuppliers + 1} {
		ss := make([]Supplier, n)
		for i := range ss {
			ss[i] = Supplier{Device: identity.ID(fmt.Sprintf("DEV%02d-AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG", i)),
				Addrs: []string{fmt.Sprintf("198.51.%d.7:7000", i)}, Complete: i%2 == 0, Load: i % 5, Score: float64(n-i) / float64(n)}
		}
		cases[fmt.Sprintf("ranked-%d", n)] = ss
	}
	return cases
}

// binCasesV2 are lists with an order of arrival (SuppliersMediaTypeV2).
func binCasesV2() map[string][]Supplier {
	cases := map[string][]Supplier{
		"asker last": {{Device: "A", Addrs: []string{}, Score: 1, Arrival: -2}, {Device: "B", Addrs: []string{}, Score: 0.5, Arrival: -1}},
		"asker first, a seed and the origin": {{Device: "A", Addrs: []string{}, Score: 1, Arrival: 3},
			{Device: "S", Addrs: []string{}, Complete: true, Score: 0.75}, {Device: "B", Addrs: []string{}, Score: 0.5, Arrival: 2},
			{Device: "DIR", Addrs: []string{}, Origin: true, Complete: true, Score: 0.25}},
		"asker between": {{Device: "A", Addrs: []string{}, Score: 1, Arrival: 3}, {Device: "B", Addrs: []string{}, Score: 0.5, Arrival: -1}},
	}
	ss := make([]Supplier, MaxSuppliers+1)
	for i := range ss {
		ss[i] = Supplier{Device: identity.ID(fmt.Sprintf("DEV%02d", i)), Addrs: []string{}, Score: float64(len(ss)-i) / float64(len(ss)),
			Arrival: i + 1}
		if i < 20 {
			ss[i].Arrival = -ss[i].Arrival
		} else {
			ss[i].Arrival++ // the asker is 21st
		}
	}
	cases["ranked-51"] = ss
	return cases
}

// TestSuppliersBinaryV2: v2 carries every list v1 does and the order of
// arrival exactly; v1 leaves the order out (Arrival 0), as JSON does.
func TestSuppliersBinaryV2(t *testing.T) {
	cases := binCasesV2()
	for name, ss := range binCases() {
		cases[name] = ss
	}
	for name, ss := range cases {
		b, ok := appendSuppliersBinary(nil, ss, true)
		if !ok || b[0] != 2 {
			t.Errorf("%s: not encoded", name)
			continue
		}
		var got, v1 suppliersResponse
		if err := got.decodeBinary(b, MaxSuppliers+1); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fmt.Sprintf("%#v", got.Suppliers) != fmt.Sprintf("%#v", ss) {
			t.Errorf("%s:\nv2 %#v\nin %#v", name, got.Suppliers, ss)
		}
		b1, _ := appendSuppliersBinary(nil, ss, false)
		if err := v1.decodeBinary(b1, MaxSuppliers+1); err != nil {
			t.Fatalf("%s: v1: %v", name, err)
		}
		for i := range ss {
			got.Suppliers[i].Arrival = 0
		}
		if fmt.Sprintf("%#v", v1.Suppliers) != fmt.Sprintf("%#v", got.Suppliers) {
			t.Errorf("%s: v1 differs beyond Arrival", name)
		}
	}
}

// TestSuppliersBinary: every list the server answers comes back from the
// binary form exactly as it went in, and as the JSON form carries it.
func TestSuppliersBinary(t *testing.T) {
	for name, ss := range binCases() {
		b, ok := appendSuppliersBinary(nil, ss, false)
		if !ok {
			t.Errorf("%s: not encoded", name)
			continue
		}
		var got suppliersResponse
		if err := got.decodeBinary(b, MaxSuppliers+1); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var viaJSON suppliersResponse
		if err := json.Unmarshal(appendSuppliersJSON(nil, ss), &viaJSON); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%#v", viaJSON.Suppliers); fmt.Sprintf("%#v", got.Suppliers) != want {
			t.Errorf("%s:\nbinary %#v\njson   %s", name, got.Suppliers, want)
		}
		if j := appendSuppliersJSON(nil, ss); strings.HasPrefix(name, "ranked-") && len(b) > len(j)/2 {
			t.Errorf("%s: %d bytes, JSON %d", name, len(b), len(j))
		}
	}
}

// TestSuppliersBinaryDeclines: what the binary form does not carry is left
// to JSON.
func TestSuppliersBinaryDeclines(t *testing.T) {
	for name, ss := range map[string][]Supplier{
		"non-ASCII account":  {{Device: "X", Account: "zoë", Score: 1}},
		"control byte":       {{Device: "X", Addrs: []string{"a\nb"}, Score: 1}},
		"DEL in the relay":   {{Device: "X", Relay: "\x7f", Score: 1}},
		"too many addresses": {{Device: "X", Addrs: make([]string, MaxAddrs+1), Score: 1}},
	} {
		in := []byte("keep")
		if b, ok := appendSuppliersBinary(in, ss, false); ok || string(b) != "keep" {
			t.Errorf("%s: encoded (%q)", name, b)
		}
	}
}

// TestSecuritySuppliersBinaryHostile: a hostile directory's binary answer is
// refused, without a panic or an allocation sized by its claims, whatever
// count or length it states.
func TestSecuritySuppliersBinaryHostile(t *testing.T) {
	good, _ := appendSuppliersBinary(nil, binCases()["two"], false)
	good2, _ := appendSuppliersBinary(nil, binCasesV2()["asker first, a seed and the origin"], true)
	uv := func(b []byte, v ...uint64) []byte {
		for _, x := range v {
			b = binary.AppendUvarint(b, x)
		}
		return b
	}
	rec := []byte{0, 1, 0, 0, 0} // flags, device "D", no account, no addrs, load 0
	cases := map[string][]byte{
		"empty":                      nil,
		"version 3":                  append([]byte{3}, good2[1:]...),
		"v2: asker past the end":     append(append(uv([]byte{2}, 1, 0, 1, 3), rec...), 0, 'D'),
		"v2: arrival without asker":  append(append(uv([]byte{2}, 1, 0, 1, 0), rec...), 1, 'D'),
		"v2: arrival is the asker's": append(append(uv([]byte{2}, 1, 0, 1, 1), rec...), 1, 'D'),
		"v2: arrival past the end":   append(append(uv([]byte{2}, 1, 0, 1, 1), rec...), 3, 'D'),
		"v2: a rank missing":         append(append(uv([]byte{2}, 1, 0, 1, 2), rec...), 0, 'D'),
		"v2: a rank twice": append(append(uv([]byte{2}, 2, 0, 2, 1), append(append([]byte{}, rec...), 2, 0, 1, 0, 0, 0, 2)...),
			'D', 'E'),
		"v2: huge arrival":          append(append(uv([]byte{2}, 1, 0, 1, 1), rec...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'D'),
		"more than maxItems":        uv([]byte{1}, MaxSuppliers+2, 0, 0),
		"2^63 suppliers":            uv([]byte{1}, 1<<63, 0, 0),
		"addresses overflow":        uv([]byte{1}, 1, math.MaxUint64, 0),
		"string table past the end": append(uv([]byte{1}, 1, 0, 1<<40), rec...),
		"records missing":           uv([]byte{1}, 50, 0, 0),
		"device past the table":     append(append(uv([]byte{1}, 1, 0, 0), rec...), 'D'),
		"table not printable":       append(append(uv([]byte{1}, 1, 0, 1), rec...), 0),
		"left-over string":          append(append(uv([]byte{1}, 1, 0, 2), rec...), 'D', 'E'),
		"trailing record byte":      append(append(uv([]byte{1}, 1, 0, 1), append(rec, 9)...), 'D'),
		"addresses not announced":   append(append(uv([]byte{1}, 1, 0, 2), 0, 1, 0, 1, 1, 0), 'D', 'a'),
		"addresses left":            append(append(uv([]byte{1}, 1, 2, 2), 0, 1, 0, 1, 1, 0), 'D', 'a'),
		"null with addresses":       append(append(uv([]byte{1}, 1, 1, 2), binAddrsNull, 1, 0, 1, 1, 0), 'D', 'a'),
		"too many addresses":        append(uv([]byte{1}, 2, 17, 0), 0, 0, 0, 17),
		"NaN score": append(append(uv([]byte{1}, 1, 0, 1), binary.LittleEndian.AppendUint64([]byte{binScore, 1, 0, 0, 0},
			math.Float64bits(math.NaN()))...), 'D'),
		"varint overflow": append(uv([]byte{1}, 1, 0, 0), 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
	}
	for i := range good { // every truncation of an honest answer
		cases[fmt.Sprintf("truncated to %d", i)] = good[:i]
	}
	for i := range good2 {
		cases[fmt.Sprintf("v2 truncated to %d", i)] = good2[:i]
	}
	for name, b := range cases {
		var r suppliersResponse
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := r.decodeBinary(b, MaxSuppliers+1)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: accepted %#v", name, r.Suppliers)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
}

// TestAcceptsMedia: the directory answers the binary form to an Accept that
// names it with a quality above zero, and JSON to anything else.
func TestAcceptsMedia(t *testing.T) {
	for _, c := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{SuppliersMediaType}, true},
		{[]string{"application/json"}, false},
		{[]string{"*/*"}, false},
		{[]string{"application/*"}, false},
		{[]string{"application/json, " + SuppliersMediaType}, true},
		{[]string{"text/html", "Application/VND.kith.suppliers.v1 ; charset=x"}, true},
		{[]string{SuppliersMediaType + ";q=0.5, application/json"}, true},
		{[]string{SuppliersMediaType + "; q=0"}, false},
		{[]string{SuppliersMediaType + ";Q=0.000"}, false},
		{[]string{SuppliersMediaType + "2"}, false},
		{[]string{"application/vnd.kith.suppliers.v2"}, false},
		{[]string{suppliersAccept}, true}, // a newer client, an older directory: v1
	} {
		if got := acceptsMedia(c.accept, SuppliersMediaType); got != c.want {
			t.Errorf("Accept %q: %v, want %v", c.accept, got, c.want)
		}
	}
	for _, c := range []struct {
		accept []string
		want   bool
	}{
		{[]string{suppliersAccept}, true},
		{[]string{SuppliersMediaType}, false}, // an older client: v1 only
		{[]string{SuppliersMediaTypeV2 + ";q=0, " + SuppliersMediaType}, false},
	} {
		if got := acceptsMedia(c.accept, SuppliersMediaTypeV2); got != c.want {
			t.Errorf("Accept %q for v2: %v, want %v", c.accept, got, c.want)
		}
	}
}

// FuzzSuppliersDecodeBinary: whatever the binary decoder accepts is at most
// the items asked for, encodes back to the binary form, decodes from that to
// the same list, and reads the same through the JSON form.
func FuzzSuppliersDecodeBinary(f *testing.F) {
	for _, ss := range binCases() {
		b, _ := appendSuppliersBinary(nil, ss, false)
		f.Add(b, 20)
	}
	for _, ss := range binCasesV2() {
		b, _ := appendSuppliersBinary(nil, ss, true)
		f.Add(b, MaxSuppliers+1)
	}
	f.Add([]byte{1, 1, 0, 1, binScore, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 'D'}, 1)
	f.Fuzz(func(t *testing.T, b []byte, maxItems int) {
		if maxItems < 0 || maxItems > MaxSuppliers+1 {
			return
		}
		var r suppliersResponse
		if r.decodeBinary(b, maxItems) != nil {
			return
		}
		ss := r.Suppliers
		if len(ss) > maxItems {
			t.Fatalf("%d suppliers, at most %d asked", len(ss), maxItems)
		}
		again, ok := appendSuppliersBinary(nil, ss, b[0] == 2)
		if !ok {
			t.Fatalf("accepted %#v, which does not encode", ss)
		}
		var r2 suppliersResponse
		if err := r2.decodeBinary(again, maxItems); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if fmt.Sprintf("%#v", r2.Suppliers) != fmt.Sprintf("%#v", ss) {
			t.Fatalf("round trip:\n%#v\n%#v", ss, r2.Suppliers)
		}
		var viaJSON suppliersResponse
		if err := json.Unmarshal(appendSuppliersJSON(nil, ss), &viaJSON); err != nil {
			t.Fatalf("JSON of %#v: %v", ss, err)
		}
		for i := range ss { // v2's order of arrival: not in JSON
			ss[i].Arrival = 0
		}
		if len(ss) > 0 && fmt.Sprintf("%#v", viaJSON.Suppliers) != fmt.Sprintf("%#v", ss) {
			t.Fatalf("through JSON:\n%#v\n%#v", ss, viaJSON.Suppliers)
		}
	})
}

// BenchmarkSuppliersDecodeBinary decodes a default answer (16 suppliers
// and the origin) in the binary form, as BenchmarkSuppliersDecodeFast does
// the JSON one.
func BenchmarkSuppliersDecodeBinary(b *testing.B) {
	ss := benchAnswer()
	in, _ := appendSuppliersBinary(nil, ss, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var r suppliersResponse
		if r.decodeBinary(in, MaxSuppliers+1) != nil || len(r.Suppliers) != len(ss) {
			b.Fatal("not decoded")
		}
	}
}

// BenchmarkSuppliersEncode encodes a default answer in either form.
func BenchmarkSuppliersEncode(b *testing.B) {
	ss := benchAnswer()
	buf := make([]byte, 0, 4096)
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			buf = appendSuppliersJSON(buf[:0], ss)
		}
	})
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			buf, _ = appendSuppliersBinary(buf[:0], ss, false)
		}
	})
}

// benchAnswer is a default answer: 16 suppliers with real IDs and the origin.
func benchAnswer() []Supplier {
	ss := make([]Supplier, DefaultSuppliers+1)
	for i := range ss {
		id, _ := identity.Generate()
		ss[i] = Supplier{Device: id.ID(), Addrs: []string{fmt.Sprintf("198.51.%d.7:7000", i)}, Complete: true, Load: i % 5,
			Score: float64(len(ss)-i) / float64(len(ss))}
	}
	ss[len(ss)-1] = Supplier{Device: ss[0].Device, Addrs: []string{}, Origin: true, Complete: true, Score: 1.0 / float64(len(ss))}
	return ss
}

// TestPrintableASCII checks the eight-at-a-time test against the plain one
// for every byte at every place, beside printable and boundary bytes.
func TestPrintableASCII(t *testing.T) {
	plain := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
		return true
	}
	for _, fill := range []byte{0x20, 'a', 0x7e} {
		for n := 1; n <= 17; n++ {
			for pos := range n {
				for c := range 256 {
					b := []byte(strings.Repeat(string(rune(fill)), n))
					b[pos] = byte(c)
					if got, want := printableASCII(b), plain(b); got != want {
						t.Fatalf("%q: %v, want %v", b, got, want)
					}
				}
			}
		}
	}
}
