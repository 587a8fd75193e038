package peer

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzReadExact feeds chunk responses of any declared and actual length:
// readExact must return exactly n bytes or an error, never other lengths.
func FuzzReadExact(f *testing.F) {
	f.Add([]byte("0123456789"), int64(10), int64(10))   // exact
	f.Add([]byte("0123456789"), int64(10), int64(-1))   // no length declared
	f.Add([]byte("01234"), int64(10), int64(10))        // truncated body
	f.Add([]byte("0123456789AB"), int64(10), int64(-1)) // more than declared
	f.Add([]byte("0123456789"), int64(10), int64(12))   // wrong declaration
	f.Fuzz(func(t *testing.T, body []byte, n, declared int64) {
		if n < 0 || n > 1<<16 || declared < -1 {
			t.Skip()
		}
		resp := &http.Response{ContentLength: declared, Body: io.NopCloser(bytes.NewReader(body))}
		got, err := readExact(resp, n, nil, "fuzz")
		if err == nil {
			if int64(len(got)) != n || !bytes.Equal(got, body[:n]) {
				t.Fatalf("returned %d bytes for n=%d", len(got), n)
			}
			if declared >= 0 && declared != n {
				t.Fatalf("accepted declared length %d for n=%d", declared, n)
			}
			if int64(len(body)) > n {
				t.Fatalf("accepted %d-byte body for n=%d", len(body), n)
			}
		}
	})
}
