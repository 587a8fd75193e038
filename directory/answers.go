package directory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// boundedAnswer is an answer type with its own bounds for the client:
// at most bytes of JSON and, when list is set, at most items elements in
// that top-level list, counted before anything is decoded into Go values
// (encoding/json spends ~200 bytes of memory per empty element).
type boundedAnswer interface {
	answerLimits() (bytes int64, list string, items int)
}

func (*suppliersResponse) answerLimits() (int64, string, int) {
	// MaxSuppliers devices and the origin, each with up to MaxAddrs addresses of MaxAddrLen.
	return 512 << 10, "suppliers", MaxSuppliers + 1
}

func (r *suppliersResponse) items() int { return len(r.Suppliers) }

func (*titlesResponse) answerLimits() (int64, string, int)  { return 4 << 20, "titles", 100 } // per_page <= 100
func (*devicesResponse) answerLimits() (int64, string, int) { return 1 << 20, "devices", 4096 }
func (*Device) answerLimits() (int64, string, int)          { return 64 << 10, "", 0 }
func (*Info) answerLimits() (int64, string, int)            { return 64 << 10, "", 0 }

// countListItems counts the elements of the top-level list named key in
// the JSON object b, stopping once there are more than max.
func countListItems(b []byte, key string, max int) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, fmt.Errorf("not a JSON object")
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, err
		}
		if k, _ := tok.(string); !strings.EqualFold(k, key) { // encoding/json matches keys case-insensitively
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, err
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return 0, err
		}
		if tok == nil { // null
			continue
		}
		if tok != json.Delim('[') {
			return 0, fmt.Errorf("%q is not a list", key)
		}
		for dec.More() {
			if n++; n > max {
				return n, nil
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// readAnswer reads a body of at most limit bytes (one more tells it was
// longer): into a pooled buffer when the length was announced (net/http
// holds the body to it) and fits one. The caller gives the buffer back
// with putAnswer once nothing refers to it (the decoders copy what they
// keep).
func readAnswer(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit && n <= answerBufSize {
		bp := answerBufs.Get().(*[]byte)
		b := (*bp)[:n]
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			answerBufs.Put(bp)
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

// answerBufSize is the pooled answer buffers' size: a supplier list (16
// suppliers are ~3 KB, 50 ~10 KB) fits.
const answerBufSize = 16 << 10

var answerBufs = sync.Pool{New: func() any { b := make([]byte, answerBufSize); return &b }}

// putAnswer gives back a buffer readAnswer took from the pool.
func putAnswer(b []byte) {
	if cap(b) == answerBufSize {
		b = b[:cap(b)]
		answerBufs.Put(&b)
	}
}

// binaryAnswer is an answer type with a compact binary form
// (SuppliersMediaType, the only one), asked for with Accept and decoded
// when the directory answers in it: at most maxItems elements, which
// decodeBinary checks before sizing anything by them.
type binaryAnswer interface {
	decodeBinary(b []byte, maxItems int) error
}

// fastDecoder is an answer type with a reflection-free decoder for the
// exact form the directory writes; decodeFast reports false (leaving the
// value untouched) for anything else, which encoding/json then decodes.
type fastDecoder interface {
	decodeFast(b []byte) bool
	items() int // list elements decoded
}

// readError turns a non-2xx answer into *Error.
func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	if ms, err := strconv.ParseInt(resp.Header.Get(retryAfterMsHeader), 10, 64); err == nil && ms >= 0 && ms < 3_600_000 {
		e.RetryAfter = time.Duration(ms) * time.Millisecond
	} else if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 && secs < 3600 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, e) != nil || e.Code == "" {
		e.Code = http.StatusText(resp.StatusCode)
		e.Message = string(bytes.TrimSpace(b))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return e
}
