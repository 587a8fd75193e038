package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/kith-media/kith/share/identity"
)

// SuppliersMediaType is the compact binary form of a supplier list, which
// the client asks for (Accept) and the directory answers when asked (and
// every string of the answer is printable ASCII; JSON otherwise, and for
// anyone who does not ask). A lookup is the directory's commonest request:
// this form is less than half the bytes of the JSON and is read in one
// pass without scanning for quotes. The layout (integers are unsigned
// varints unless said otherwise):
//
//	version (one byte, 1)
//	n            suppliers
//	addrs        addresses of all suppliers together
//	strLen       bytes of the string table that ends the answer
//	n records:   flags (one byte: origin 1, complete 2, same LAN 4,
//	             addrs null 8, RTT 16, score 32, reach 64, relay 128)
//	             len(device) len(account) count(addrs) len(addr)…
//	             [RTT, zig-zag varint] load (zig-zag varint)
//	             [score, float64 bits little-endian: only when it is not
//	             the rank score (n-i)/n of the i-th of n] [len(reach)] [len(relay)]
//	string table: the strings of every record in record order, printable
//	             ASCII, exactly strLen bytes to the end
const SuppliersMediaType = "application/vnd.kith.suppliers.v1"

// SuppliersMediaTypeV2 is SuppliersMediaType with the order of arrival
// of a forming crowd (Supplier.Arrival), which v1's eight flag bits
// leave no room for. The layout is v1's (version byte 2) with one more
// unsigned varint in the header and one in each record:
//
//	version (2) n addrs strLen self   self: the asker's rank in the
//	                                  order, 0 when the answer has none
//	each record: v1's fields, then arrival (after load): 0 or the
//	             supplier's rank, from 1, never self's; self's and the
//	             records' ranks are exactly 1…m (m <= n+1), each once
//
// A client that reads it asks for both (Accept: v2, v1; an older
// directory answers v1) and reads either; an older client asks for v1
// only and gets v1.
const SuppliersMediaTypeV2 = "application/vnd.kith.suppliers.v2"

const suppliersBinVersion, suppliersBinVersion2 = 1, 2

// suppliersAccept is what Client asks for.
const suppliersAccept = SuppliersMediaTypeV2 + ", " + SuppliersMediaType

// Flags of a supplier record.
const (
	binOrigin = 1 << iota
	binComplete
	binSameLAN
	binAddrsNull
	binRTT
	binScore
	binReach
	binRelay
)

var (
	suppliersBinContentType   = []string{SuppliersMediaType}
	suppliersBinV2ContentType = []string{SuppliersMediaTypeV2}
)

// acceptsMedia reports whether an Accept header (its values) names typ with
// a non-zero quality; "*/*" and "application/*" do not count (JSON is what
// everyone who does not name this form gets).
func acceptsMedia(accept []string, typ string) bool {
	for _, v := range accept {
		if v == typ { // what the client sends
			return true
		}
		for len(v) > 0 {
			var r string
			r, v, _ = strings.Cut(v, ",")
			mt, params, _ := strings.Cut(r, ";")
			if !strings.EqualFold(strings.TrimSpace(mt), typ) {
				continue
			}
			q := true
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") && strings.Trim(strings.TrimSpace(val), "0.") == "" {
					q = false // q=0, q=0.0, q=0.000: not acceptable
				}
			}
			if q {
				return true
			}
		}
	}
	return false
}

// appendSuppliersBinary appends ss in the SuppliersMediaType form (v2:
// SuppliersMediaTypeV2); ok is false (b unchanged) when a string is not
// printable ASCII or a supplier has more than MaxAddrs addresses, which
// the JSON form carries instead.
func appendSuppliersBinary(b []byte, ss []Supplier, v2 bool) (_ []byte, ok bool) {
	strLen, naddrs := 0, 0
	for i := range ss {
		s := &ss[i]
		if len(s.Addrs) > MaxAddrs {
			return b, false
		}
		strLen += len(s.Device) + len(s.Account) + len(s.Reach) + len(s.Relay)
		for _, a := range s.Addrs {
			strLen += len(a)
		}
		naddrs += len(s.Addrs)
	}
	start, n := len(b), len(ss)
	if v2 {
		b = append(b, suppliersBinVersion2)
	} else {
		b = append(b, suppliersBinVersion)
	}
	b = appendUvarint(b, uint64(n))
	b = appendUvarint(b, uint64(naddrs))
	b = appendUvarint(b, uint64(strLen))
	if v2 {
		self, ordered := 1, false // the asker ranks after those before it
		for i := range ss {
			if a := ss[i].Arrival; a < 0 {
				self++
			}
			ordered = ordered || ss[i].Arrival != 0
		}
		if !ordered {
			self = 0
		}
		b = appendUvarint(b, uint64(self))
	}
	for i := range ss {
		s := &ss[i]
		var f byte
		if s.Origin {
			f |= binOrigin
		}
		if s.Complete {
			f |= binComplete
		}
		if s.SameLAN {
			f |= binSameLAN
		}
		if s.Addrs == nil {
			f |= binAddrsNull
		}
		if s.RTT != 0 {
			f |= binRTT
		}
		if s.Score != float64(n-i)/float64(n) {
			f |= binScore
		}
		if s.Reach != "" {
			f |= binReach
		}
		if s.Relay != "" {
			f |= binRelay
		}
		b = append(b, f)
		b = appendUvarint(b, uint64(len(s.Device)))
		b = appendUvarint(b, uint64(len(s.Account)))
		b = append(b, byte(len(s.Addrs))) // <= MaxAddrs: a one-byte varint
		for _, a := range s.Addrs {
			b = appendUvarint(b, uint64(len(a)))
		}
		if f&binRTT != 0 {
			b = appendVarint(b, s.RTT)
		}
		b = appendVarint(b, int64(s.Load))
		if v2 {
			b = appendUvarint(b, uint64(max(s.Arrival, -s.Arrival)))
		}
		if f&binScore != 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Score))
		}
		if f&binReach != 0 {
			b = appendUvarint(b, uint64(len(s.Reach)))
		}
		if f&binRelay != 0 {
			b = appendUvarint(b, uint64(len(s.Relay)))
		}
	}
	tab := len(b)
	for i := range ss {
		s := &ss[i]
		b = append(b, s.Device...)
		b = append(b, s.Account...)
		for _, a := range s.Addrs {
			b = append(b, a...)
		}
		b = append(b, s.Reach...)
		b = append(b, s.Relay...)
	}
	if !printableASCII(b[tab:]) {
		return b[:start], false
	}
	return b, true
}

// appendUvarint is binary.AppendUvarint, inlined for the usual one byte.
func appendUvarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return binary.AppendUvarint(b, v)
}

// appendVarint is binary.AppendVarint, inlined for the usual one byte.
func appendVarint(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

// printableASCII reports whether b holds only bytes 0x20–0x7e (eight at a
// time: the string table is a kilobyte or so on both ends of every lookup).
func printableASCII(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		// a byte < 0x20 borrows into its high bit (no byte >= 0x20 does
		// unless one below it did); a byte >= 0x7f has it or gains it by +1
		if ((x-0x20*ones)&^x|x|(x+ones))&highs != 0 {
			return false
		}
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

var errSuppliersBin = errors.New("malformed binary supplier list")

// decodeBinary reads a SuppliersMediaType answer of at most maxItems
// suppliers (hostile input: every count and length is checked against
// what is left before anything is sized by it). The strings are
// substrings of one copy of the string table; the addresses share one
// slice.
func (r *suppliersResponse) decodeBinary(b []byte, maxItems int) error {
	p := binReader{b: b}
	v := p.byte()
	if v != suppliersBinVersion && v != suppliersBinVersion2 {
		return fmt.Errorf("%w: version %d", errSuppliersBin, v)
	}
	n, naddrs, strLen := p.uvarint(), p.uvarint(), p.uvarint()
	var self uint64 // v2: the asker's rank in the order of arrival
	if v == suppliersBinVersion2 {
		self = p.uvarint()
	}
	switch {
	case self > n+1:
		return fmt.Errorf("%w: the asker's arrival %d past %d suppliers", errSuppliersBin, self, n)
	case p.bad:
		return fmt.Errorf("%w: truncated header", errSuppliersBin)
	case n > uint64(maxItems):
		return fmt.Errorf("%w: more than %d suppliers", errSuppliersBin, maxItems)
	case naddrs > n*MaxAddrs:
		return fmt.Errorf("%w: %d addresses for %d suppliers", errSuppliersBin, naddrs, n)
	case strLen > uint64(len(b)-p.i) || n*5 > uint64(len(b)-p.i)-strLen: // a record is at least 5 bytes
		return fmt.Errorf("%w: lengths past the end", errSuppliersBin)
	}
	tab := b[len(b)-int(strLen):]
	p.b = b[:len(b)-int(strLen)] // the records
	if !printableASCII(tab) {
		return fmt.Errorf("%w: a string is not printable ASCII", errSuppliersBin)
	}
	all := string(tab)
	str := func(l uint64) string { // the next l bytes of the table
		if l > uint64(len(all)) {
			p.bad = true
			return ""
		}
		s := all[:l]
		all = all[l:]
		return s
	}
	out := make([]Supplier, n)
	var addrs []string
	if naddrs > 0 {
		addrs = make([]string, naddrs)
	}
	k := 0           // addresses used
	var ranks []bool // v2: the arrival ranks seen, self's first
	if self != 0 {
		ranks = make([]bool, n+2)
		ranks[self] = true
	}
	for i := range out {
		s := &out[i]
		f := p.byte()
		s.Origin, s.Complete, s.SameLAN = f&binOrigin != 0, f&binComplete != 0, f&binSameLAN != 0
		s.Device = identity.ID(str(p.uvarint()))
		s.Account = str(p.uvarint())
		na := p.uvarint()
		if na > MaxAddrs || na > uint64(len(addrs)-k) || f&binAddrsNull != 0 && na != 0 {
			return fmt.Errorf("%w: supplier %d's addresses", errSuppliersBin, i)
		}
		switch {
		case f&binAddrsNull != 0:
		case na == 0:
			s.Addrs = []string{}
		default:
			s.Addrs = addrs[k : k+int(na) : k+int(na)] // capped: an append by the caller copies
			for j := range s.Addrs {
				s.Addrs[j] = str(p.uvarint())
			}
			k += int(na)
		}
		if f&binRTT != 0 {
			s.RTT = p.varint()
		}
		load := p.varint()
		if load != int64(int(load)) {
			return fmt.Errorf("%w: supplier %d's load is out of range", errSuppliersBin, i)
		}
		s.Load = int(load)
		if v == suppliersBinVersion2 {
			switch a := p.uvarint(); {
			case a == 0:
			case self == 0 || a > n+1 || ranks[a]:
				return fmt.Errorf("%w: supplier %d's arrival %d (the asker's %d)", errSuppliersBin, i, a, self)
			default:
				ranks[a] = true
				s.Arrival = int(a)
				if a < self {
					s.Arrival = -s.Arrival
				}
			}
		}
		if f&binScore != 0 {
			s.Score = math.Float64frombits(p.uint64())
			if math.IsNaN(s.Score) || math.IsInf(s.Score, 0) {
				return fmt.Errorf("%w: supplier %d's score is not a number", errSuppliersBin, i)
			}
		} else {
			s.Score = float64(len(out)-i) / float64(len(out))
		}
		if f&binReach != 0 {
			s.Reach = str(p.uvarint())
		}
		if f&binRelay != 0 {
			s.Relay = str(p.uvarint())
		}
		if p.bad {
			return fmt.Errorf("%w: supplier %d truncated", errSuppliersBin, i)
		}
	}
	switch {
	case p.i != len(p.b):
		return fmt.Errorf("%w: %d bytes after the records", errSuppliersBin, len(p.b)-p.i)
	case k != len(addrs):
		return fmt.Errorf("%w: %d addresses announced, %d read", errSuppliersBin, len(addrs), k)
	case all != "":
		return fmt.Errorf("%w: %d bytes of strings left over", errSuppliersBin, len(all))
	case self != 0 && !ranked(ranks):
		return fmt.Errorf("%w: arrival ranks are not 1 to %d", errSuppliersBin, len(ranks))
	}
	r.Suppliers = out
	return nil
}

// ranked reports whether the ranks seen (ranks[r]: rank r given) are
// exactly 1…m for some m: the asker's and the suppliers' places in one
// order of arrival, as the directory writes them.
func ranked(ranks []bool) bool {
	m := 0
	for _, ok := range ranks[1:] {
		if ok {
			m++
		}
	}
	return !slices.Contains(ranks[1:m+1], false)
}

// binReader reads the fields of a binary answer; any read past the end
// sets bad (and reads zero).
type binReader struct {
	b   []byte
	i   int
	bad bool
}

func (p *binReader) byte() byte {
	if p.i >= len(p.b) {
		p.bad = true
		return 0
	}
	c := p.b[p.i]
	p.i++
	return c
}

func (p *binReader) uvarint() uint64 {
	if p.i < len(p.b) && p.b[p.i] < 0x80 { // the usual one-byte length
		c := p.b[p.i]
		p.i++
		return uint64(c)
	}
	v, n := binary.Uvarint(p.b[min(p.i, len(p.b)):])
	if n <= 0 {
		p.bad = true
		return 0
	}
	p.i += n
	return v
}

func (p *binReader) varint() int64 {
	if p.i < len(p.b) && p.b[p.i] < 0x80 { // the usual small load
		c := int64(p.b[p.i])
		p.i++
		return c>>1 ^ -(c & 1)
	}
	v, n := binary.Varint(p.b[min(p.i, len(p.b)):])
	if n <= 0 {
		p.bad = true
		return 0
	}
	p.i += n
	return v
}

func (p *binReader) uint64() uint64 {
	if len(p.b)-p.i < 8 {
		p.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(p.b[p.i:])
	p.i += 8
	return v
}

// mediaTypeIs reports whether h's Content-Type is exactly typ (parameters
// would make it another answer: the client asks for no variant).
func mediaTypeIs(h http.Header, typ string) bool {
	ct := h["Content-Type"]
	return len(ct) == 1 && ct[0] == typ
}

// binaryAnswered reports whether h's Content-Type is a binary form asked
// for with accept (suppliersAccept: either version).
func binaryAnswered(h http.Header, accept string) bool {
	if accept == suppliersAccept {
		return mediaTypeIs(h, SuppliersMediaTypeV2) || mediaTypeIs(h, SuppliersMediaType)
	}
	return mediaTypeIs(h, accept)
}
