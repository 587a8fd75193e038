package directory

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
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
		b = appendJSONFloat(b, s.Score)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendJSONString writes s as encoding/json does; strings that need any
// escaping (rare: IDs, accounts and addresses are plain ASCII) go through
// encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat writes f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	if abs := f; abs != 0 && (abs < 1e-6 && abs > -1e-6 || abs >= 1e21 || abs <= -1e21) {
		q, _ := json.Marshal(f)
		return append(b, q...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}
