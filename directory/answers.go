package directory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
