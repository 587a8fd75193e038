package directory

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kith-media/kith/share/identity"
)

// jsonBufs recycles the buffers supplier answers are encoded into.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendSuppliersJSON appends {"suppliers":[...]} and a newline, byte for
// byte what encoding/json writes for suppliersResponse, without reflection
// (a lookup answer is the directory's hottest encoding).
func appendSuppliersJSON(b []byte, ss []Supplier) []byte {
	b = append(b, `{"suppliers":[`...)
	for i := range ss {
		s := &ss[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"device":`...)
		b = appendJSONString(b, string(s.Device))
		b = append(b, `,"account":`...)
		b = appendJSONString(b, s.Account)
		b = append(b, `,"addrs":`...)
		if s.Addrs == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for j, a := range s.Addrs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, a)
			}
			b = append(b, ']')
		}
		b = append(b, `,"origin":`...)
		b = strconv.AppendBool(b, s.Origin)
		b = append(b, `,"complete":`...)
		b = strconv.AppendBool(b, s.Complete)
		b = append(b, `,"same_lan":`...)
		b = strconv.AppendBool(b, s.SameLAN)
		if s.RTT != 0 {
			b = append(b, `,"rtt_ms":`...)
			b = strconv.AppendInt(b, s.RTT, 10)
		}
		b = append(b, `,"load":`...)
		b = strconv.AppendInt(b, int64(s.Load), 10)
		b = append(b, `,"score":`...)
		if n := len(ss); n <= len(rankScores) && s.Score == float64(n-i)/float64(n) {
			b = append(b, rankScores[n-1][i]...) // the usual score, written once at start
		} else {
			b = appendJSONFloat(b, s.Score)
		}
		if s.Reach != "" {
			b = append(b, `,"reach":`...)
			b = appendJSONString(b, s.Reach)
		}
		if s.Relay != "" {
			b = append(b, `,"relay":`...)
			b = appendJSONString(b, s.Relay)
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendJSONString writes s as encoding/json does; strings that need any
// escaping (rare: IDs, accounts and addresses are plain ASCII) go through
// encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonVerbatim[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonVerbatim marks the bytes encoding/json writes as they are inside a
// string: printable ASCII but the quote, the backslash and its HTML
// escapes (<, >, &).
var jsonVerbatim = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// rankScores[n-1][i] is appendJSONFloat of (n-i)/n, the score of the
// i-th of n suppliers (handleSuppliers): formatting the shortest decimal of
// a float was a tenth of encoding an answer.
var rankScores = func() (t [MaxSuppliers + 1][]string) {
	for n := 1; n <= len(t); n++ {
		t[n-1] = make([]string, n)
		for i := range n {
			t[n-1][i] = string(appendJSONFloat(nil, float64(n-i)/float64(n)))
		}
	}
	return t
}()

// appendJSONFloat writes f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	if abs := f; abs != 0 && (abs < 1e-6 && abs > -1e-6 || abs >= 1e21 || abs <= -1e21) {
		q, _ := json.Marshal(f)
		return append(b, q...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// decodeFast parses exactly the form appendSuppliersJSON writes into r,
// without reflection (a player asks for suppliers often). Anything else
// (whitespace, escapes, non-ASCII, other field orders, unknown fields)
// returns false, and the caller decodes with encoding/json instead.
//
// The answer is read in place (b is the caller's pooled buffer): strings
// are noted as spans of b, and once the whole answer parsed, the bytes
// they cover (IDs, accounts, addresses: about a third of the answer) are
// copied into one string that every field is a substring of.
func (r *suppliersResponse) decodeFast(b []byte) bool {
	if len(b) > math.MaxInt32 { // spans are 32-bit (answers are capped far below)
		return false
	}
	var p jsonScan // on the stack, spans and all
	p.s = b
	if !p.lit(`{"suppliers":[`) {
		return false
	}
	// Sized for a default answer (16 and the origin).
	out := make([]Supplier, 0, DefaultSuppliers+1)
	if !p.lit("]") {
		for {
			s, ok := p.supplier(len(out))
			if !ok {
				return false
			}
			out = append(out, s)
			if p.lit(",") {
				continue
			}
			if p.lit("]") {
				break
			}
			return false
		}
	}
	if !p.lit("}") {
		return false
	}
	for ; p.i < len(p.s); p.i++ {
		if c := p.s[p.i]; c != '\n' && c != ' ' && c != '\r' && c != '\t' {
			return false
		}
	}
	spans := append(p.spanBuf[:min(p.nspans, len(p.spanBuf))], p.more...)
	n := 0
	for _, sp := range spans {
		if sp.field != fieldScore {
			n += int(sp.n)
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, sp := range spans {
		if sp.field != fieldScore {
			sb.Write(b[sp.off : sp.off+sp.n])
		}
	}
	all := sb.String()
	var addrs []string // every supplier's addresses, in order
	if p.naddrs > 0 {
		addrs = make([]string, p.naddrs)
	}
	k, first := 0, 0
	for _, sp := range spans {
		s := &out[sp.sup]
		if sp.field == fieldScore {
			// A rank's score (n-i)/n is read from the encoder's own table
			// (the shortest decimal of that very float); others are parsed.
			tok, n, i := b[sp.off:sp.off+sp.n], len(out), int(sp.sup)
			if n <= len(rankScores) && string(tok) == rankScores[n-1][i] {
				s.Score = float64(n-i) / float64(n)
				continue
			}
			f, err := strconv.ParseFloat(string(tok), 64)
			if err != nil {
				return false
			}
			s.Score = f
			continue
		}
		v := all[:sp.n]
		all = all[sp.n:]
		switch sp.field {
		case fieldDevice:
			s.Device = identity.ID(v)
		case fieldAccount:
			s.Account = v
		case fieldAddr: // a supplier's addresses come one after the other
			if sp.j == 0 {
				first = k
			}
			addrs[k] = v
			k++
			s.Addrs = addrs[first:k:k] // capped: an append by the caller copies
		case fieldReach:
			s.Reach = v
		case fieldRelay:
			s.Relay = v
		}
	}
	r.Suppliers = out
	return true
}

// strSpan is a string of the answer being decoded: bytes [off, off+n) of
// it, for field of the sup-th supplier (its j-th address).
type strSpan struct {
	off, n int32
	sup, j int32
	field  uint8
}

const (
	fieldDevice = iota
	fieldAccount
	fieldAddr
	fieldReach
	fieldRelay
	fieldScore // a number, read once the list's length is known
)

// jsonScan reads the fixed shapes decodeFast accepts.
type jsonScan struct {
	s      []byte
	i      int
	naddrs int // addresses read
	// the strings read so far, in order: the first in spanBuf (a default
	// answer's), the others in more
	spanBuf [6 * (DefaultSuppliers + 1)]strSpan
	nspans  int
	more    []strSpan
}

func (p *jsonScan) lit(l string) bool {
	if len(p.s)-p.i >= len(l) && string(p.s[p.i:p.i+len(l)]) == l {
		p.i += len(l)
		return true
	}
	return false
}

// str reads a string with no escapes and only printable ASCII, noting it
// as field of supplier sup (address j).
func (p *jsonScan) str(sup, j int, field uint8) bool {
	if !p.lit(`"`) {
		return false
	}
	rest := p.s[p.i:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return false
	}
	for _, c := range rest[:end] {
		if plainJSON[c] == 0 {
			return false
		}
	}
	p.note(strSpan{off: int32(p.i), n: int32(end), sup: int32(sup), j: int32(j), field: field})
	p.i += end + 1
	return true
}

// note records a span read.
func (p *jsonScan) note(sp strSpan) {
	if sp.field == fieldAddr {
		p.naddrs++
	}
	if p.nspans < len(p.spanBuf) {
		p.spanBuf[p.nspans] = sp
	} else {
		p.more = append(p.more, sp)
	}
	p.nspans++
}

// plainJSON marks the bytes a string may hold unescaped on the fast path:
// printable ASCII but the quote and the backslash.
var plainJSON = func() (t [256]byte) {
	for c := 0x20; c < 0x80; c++ {
		if c != '"' && c != '\\' {
			t[c] = 1
		}
	}
	return t
}()

func (p *jsonScan) bool() (bool, bool) {
	switch {
	case p.lit("true"):
		return true, true
	case p.lit("false"):
		return false, true
	}
	return false, false
}

// number reads a JSON number token (RFC 8259 grammar); integer tells
// whether it had no fraction or exponent.
func (p *jsonScan) number() (tok []byte, integer, ok bool) {
	s, i := p.s, p.i
	digits := func(i int) int { // the end of the digits from i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch j := digits(i); {
	case j == i:
		return nil, false, false
	case s[i] == '0' && j > i+1: // no leading zeros
		return nil, false, false
	default:
		i = j
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		j := digits(i + 1)
		if j == i+1 {
			return nil, false, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return nil, false, false
		}
		i = j
	}
	p.i = i
	return s[start:i], integer, true
}

func (p *jsonScan) int() (int64, bool) {
	tok, integer, ok := p.number()
	if !ok || !integer {
		return 0, false
	}
	if len(tok) <= 18 && tok[0] != '-' { // the usual small count: no overflow possible
		n := int64(0)
		for _, c := range tok {
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// supplier reads the sup-th supplier; its strings are left to decodeFast
// (p.spans), but for its addresses' count.
func (p *jsonScan) supplier(sup int) (s Supplier, ok bool) {
	if !p.lit(`{"device":`) || !p.str(sup, 0, fieldDevice) || !p.lit(`,"account":`) || !p.str(sup, 0, fieldAccount) ||
		!p.lit(`,"addrs":`) {
		return s, false
	}
	if !p.lit("null") {
		if !p.lit("[") {
			return s, false
		}
		s.Addrs = []string{} // filled in by decodeFast when not empty
		if !p.lit("]") {
			for j := 0; ; j++ {
				if !p.str(sup, j, fieldAddr) {
					return s, false
				}
				if p.lit(",") {
					continue
				}
				if p.lit("]") {
					break
				}
				return s, false
			}
		}
	}
	if !p.lit(`,"origin":`) {
		return s, false
	}
	if s.Origin, ok = p.bool(); !ok || !p.lit(`,"complete":`) {
		return s, false
	}
	if s.Complete, ok = p.bool(); !ok || !p.lit(`,"same_lan":`) {
		return s, false
	}
	if s.SameLAN, ok = p.bool(); !ok {
		return s, false
	}
	if p.lit(`,"rtt_ms":`) {
		if s.RTT, ok = p.int(); !ok {
			return s, false
		}
	}
	if !p.lit(`,"load":`) {
		return s, false
	}
	load, ok := p.int()
	if !ok || load != int64(int(load)) || !p.lit(`,"score":`) {
		return s, false
	}
	s.Load = int(load)
	start := p.i
	if _, _, ok := p.number(); !ok {
		return s, false
	}
	p.note(strSpan{off: int32(start), n: int32(p.i - start), sup: int32(sup), field: fieldScore})
	if p.lit(`,"reach":`) && !p.str(sup, 0, fieldReach) {
		return s, false
	}
	if p.lit(`,"relay":`) && !p.str(sup, 0, fieldRelay) {
		return s, false
	}
	if !p.lit("}") {
		return s, false
	}
	return s, true
}
