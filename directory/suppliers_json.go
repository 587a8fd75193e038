package directory

import (
	"encoding/json"
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
func (r *suppliersResponse) decodeFast(b []byte) bool {
	p := jsonScan{s: string(b)} // one copy; every string is a substring of it
	if !p.lit(`{"suppliers":[`) {
		return false
	}
	// Sized for a default answer (16 and the origin); addresses in one
	// shared array.
	out := make([]Supplier, 0, DefaultSuppliers+1)
	p.addrs = make([]string, 0, 2*(DefaultSuppliers+1))
	if !p.lit("]") {
		for {
			s, ok := p.supplier()
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
	r.Suppliers = out
	return true
}

// jsonScan reads the fixed shapes decodeFast accepts.
type jsonScan struct {
	s     string
	i     int
	addrs []string // backing of the suppliers' Addrs (non-nil)
}

func (p *jsonScan) lit(l string) bool {
	if len(p.s)-p.i >= len(l) && p.s[p.i:p.i+len(l)] == l {
		p.i += len(l)
		return true
	}
	return false
}

// str reads a string with no escapes and only printable ASCII.
func (p *jsonScan) str() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	rest := p.s[p.i:]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return "", false
	}
	v := rest[:end]
	for i := 0; i < len(v); i++ {
		if plainJSON[v[i]] == 0 {
			return "", false
		}
	}
	p.i += end + 1
	return v, true
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
func (p *jsonScan) number() (tok string, integer, ok bool) {
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
		return "", false, false
	case s[i] == '0' && j > i+1: // no leading zeros
		return "", false, false
	default:
		i = j
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		j := digits(i + 1)
		if j == i+1 {
			return "", false, false
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
			return "", false, false
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
		for i := 0; i < len(tok); i++ {
			n = n*10 + int64(tok[i]-'0')
		}
		return n, true
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	return n, err == nil
}

func (p *jsonScan) float() (float64, bool) {
	tok, _, ok := p.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(tok, 64)
	return f, err == nil
}

func (p *jsonScan) supplier() (s Supplier, ok bool) {
	var v string
	if !p.lit(`{"device":`) {
		return s, false
	}
	if v, ok = p.str(); !ok {
		return s, false
	}
	s.Device = identity.ID(v)
	if !p.lit(`,"account":`) {
		return s, false
	}
	if s.Account, ok = p.str(); !ok || !p.lit(`,"addrs":`) {
		return s, false
	}
	if !p.lit("null") {
		if !p.lit("[") {
			return s, false
		}
		if p.addrs == nil {
			p.addrs = []string{}
		}
		start := len(p.addrs)
		if !p.lit("]") {
			for {
				if v, ok = p.str(); !ok {
					return s, false
				}
				p.addrs = append(p.addrs, v)
				if p.lit(",") {
					continue
				}
				if p.lit("]") {
					break
				}
				return s, false
			}
		}
		s.Addrs = p.addrs[start:len(p.addrs):len(p.addrs)] // capped: an append by the caller copies
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
	if s.Score, ok = p.float(); !ok {
		return s, false
	}
	if p.lit(`,"reach":`) {
		if s.Reach, ok = p.str(); !ok {
			return s, false
		}
	}
	if p.lit(`,"relay":`) {
		if s.Relay, ok = p.str(); !ok {
			return s, false
		}
	}
	if !p.lit("}") {
		return s, false
	}
	return s, true
}
