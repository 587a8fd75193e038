package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
)

// headerBlock is a header block of the given lines, in their order (a
// name may repeat, which appendHeaders, iterating a map, never does).
func headerBlock(lines ...[2]string) []byte {
	var b []byte
	for _, l := range lines {
		b = append(b, byte(len(l[0])))
		b = append(b, l[0]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(l[1])))
		b = append(b, l[1]...)
	}
	return b
}

// TestParseHeaders: a block decodes to its lines, names made canonical and
// a repeated name's values kept in order without touching the other
// names' values; a block that breaks a rule is refused; a chunk answer's
// block costs four allocations (the map's two, the block's string, the
// values' array), whatever its number of lines.
func TestParseHeaders(t *testing.T) {
	b := headerBlock([2]string{"Kith-Complete", "true"}, [2]string{"content-type", "application/octet-stream"},
		[2]string{"Kith-Complete", "false"}, [2]string{"Kith-Have-Bits", "AAE"}, [2]string{"X-Empty", ""})
	h, err := parseHeaders(b)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Kith-Complete": {"true", "false"}, "Content-Type": {"application/octet-stream"},
		"Kith-Have-Bits": {"AAE"}, "X-Empty": {""}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("parsed %v, want %v", h, want)
	}
	h.Add("Kith-Have-Bits", "more") // the caller's appends stay its own
	if h.Get("X-Empty") != "" || h["Content-Type"][0] != "application/octet-stream" {
		t.Fatalf("an append to one name changed another: %v", h)
	}
	if h, err := parseHeaders(nil); err != nil || h == nil || len(h) != 0 {
		t.Fatalf("an empty block: %v, %v", h, err)
	}
	var tooMany []byte
	for range maxWireHeaders + 1 {
		tooMany = append(tooMany, headerBlock([2]string{"A", "x"})...)
	}
	for name, bad := range map[string][]byte{
		"empty name":    headerBlock([2]string{"", "x"}),
		"name":          headerBlock([2]string{"Bad Name", "x"}),
		"control":       headerBlock([2]string{"A", "x\ny"}),
		"del":           headerBlock([2]string{"A", "x\x7f"}),
		"value cut":     headerBlock([2]string{"A", "xyz"})[:5],
		"line cut":      headerBlock([2]string{"Abc", "x"})[:3],
		"too many":      tooMany,
		"second is bad": append(headerBlock([2]string{"A", "x"}), headerBlock([2]string{"B", "\x00"})...),
	} {
		if _, err := parseHeaders(bad); !errors.Is(err, errWireFrame) {
			t.Errorf("%s: %v, want a frame error", name, err)
		}
	}
	answer := headerBlock([2]string{"Content-Type", "application/octet-stream"}, [2]string{HaveHeader, "false"},
		[2]string{DownloadingHeader, "true"}, [2]string{"Kith-Have-Bits", "AAEC"})
	if n := testing.AllocsPerRun(100, func() { parseHeaders(answer) }); n > 4 {
		t.Errorf("a block of 4 lines: %.0f allocations, want at most 4 (the map, the block, the values)", n)
	}
}

// TestStatusLine: an answer's Status reads as net/http's for every code
// the wire carries.
func TestStatusLine(t *testing.T) {
	for code := 100; code <= 999; code++ {
		if got, want := statusLine(code), fmt.Sprintf("%d %s", code, http.StatusText(code)); got != want {
			t.Fatalf("status %d: %q, want %q", code, got, want)
		}
	}
}
