package peer

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"
	"time"
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
		got, err := readExact(resp, n, nil)
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

// FuzzDecodeOffers feeds /offer answers of any shape: decodeOffers must
// never accept more than MaxOffers offers or more than maxOfferBytes, and
// whatever it accepts passes check, shows no control or bidi character
// (Offer.plain) and survives encodeOffers unchanged.
func FuzzDecodeOffers(f *testing.F) {
	f.Add([]byte(`{"offers":[]}`))
	f.Add([]byte(`{"offers":[{"content":"0000000000000000000000000000000000000000000000000000000000000000","title":"t","name":"Song","artist":"Band","media_type":"audio/flac","size":100,"chunks":1,"have":1,"complete":true}]}`))
	f.Add([]byte(`{"x":[1,{"y":null}],"offers":[{},{}],"z":"w"}`))
	f.Add([]byte(`{"offers":[{"name":"\u0001"}]}`))
	f.Add([]byte(`{"offers":[{"have":2,"chunks":1}]}`))
	f.Add([]byte(`{"offers":null}`))
	f.Add([]byte(`{"offers":[],"offers":[{}]}`))
	f.Add([]byte(`{"offers":[{"name":"Song\u202Eexe.txt","artist":"\u2066A\u2069\u2028B","media_type":"audio/\u200Fflac"}]}`))
	f.Add([]byte("{\"offers\":[{\"name\":\" \u200e\u200f \u2029 x\u202a\",\"artist\":\"\u061c\"}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		offers, err := decodeOffers(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(offers) > MaxOffers || len(b) > maxOfferBytes {
			t.Fatalf("accepted %d offers from %d bytes", len(offers), len(b))
		}
		for i := range offers {
			if err := offers[i].check(); err != nil {
				t.Fatalf("accepted an offer that fails check: %v", err)
			}
			for _, s := range []string{offers[i].Name, offers[i].Artist, offers[i].MediaType} {
				if r, bad := hiddenText(s); bad {
					t.Fatalf("accepted an offer whose text %q holds %U", s, r)
				}
			}
		}
		enc, dropped := encodeOffers(offers)
		if dropped != 0 {
			t.Fatalf("re-encoding dropped %d of %d offers", dropped, len(offers))
		}
		again, err := decodeOffers(bytes.NewReader(enc))
		if err != nil || len(again) != len(offers) {
			t.Fatalf("re-encoded answer: %d offers, %v", len(again), err)
		}
		for i := range again {
			if again[i] != offers[i] {
				t.Fatalf("offer %d changed: %+v, then %+v", i, offers[i], again[i])
			}
		}
	})
}

// FuzzCleanText: cleanText always yields text checkPeerText accepts, and
// leaves acceptable text alone.
func FuzzCleanText(f *testing.F) {
	f.Add("Song", 16)
	f.Add("a\x00b\xffc\u0085d", 5)
	f.Add("ééé", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1024 {
			t.Skip()
		}
		got := cleanText(s, max)
		if err := checkPeerText("f", got, max); err != nil {
			t.Fatalf("cleanText(%q, %d) = %q: %v", s, max, got, err)
		}
		if checkPeerText("f", s, max) == nil && got != s {
			t.Fatalf("cleanText changed acceptable %q to %q", s, got)
		}
	})
}

// FuzzCarriedHave feeds chunk answers' carried have states of any shape:
// carriedHave accepts only what /have could answer (bitmaps of exactly the
// content's length, in canonical unpadded base64url), or nothing.
func FuzzCarriedHave(f *testing.F) {
	f.Add("false", "AAAAAAAA", 20)
	f.Add("true", "", 20)
	f.Add("false", "_w", 3)
	f.Add("", "AAAA", 8)
	f.Add("false", "AAAAAA==", 20)
	f.Fuzz(func(t *testing.T, complete, bits string, n int) {
		if n < 0 || n > 1<<16 {
			t.Skip()
		}
		h := http.Header{}
		if complete != "" {
			h.Set(HaveHeader, complete)
		}
		if bits != "" {
			h.Set(HaveBitsHeader, bits)
		}
		hi, err := carriedHave(h, n)
		if err != nil || hi == nil || hi.Complete {
			return
		}
		want := (n + 7) / 8
		if len(hi.Have) != want || len(hi.Fetching) != want {
			t.Fatalf("accepted bitmaps of %d and %d bytes for %d chunks", len(hi.Have), len(hi.Fetching), n)
		}
		if again := base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), hi.Have...), hi.Fetching...)); again != h.Get(HaveBitsHeader) {
			t.Fatalf("accepted %q, which encodes as %q", h.Get(HaveBitsHeader), again)
		}
	})
}

// FuzzHaveWait feeds /have's wait headers of any shape: haveWait accepts
// only a want bitmap of exactly the content's length in canonical
// unpadded base64url and a decimal wait from 1 ms, cut to MaxHaveWait; or
// no wait at all when neither header is there.
func FuzzHaveWait(f *testing.F) {
	f.Add("AAAA", "100", 20)
	f.Add("_w", "1", 3)
	f.Add("", "", 8)
	f.Add("AAAA", "0", 20)
	f.Add("AAAA==", "999999", 20)
	f.Fuzz(func(t *testing.T, want, wait string, n int) {
		if n < 0 || n > 1<<16 {
			t.Skip()
		}
		h := http.Header{}
		if want != "" {
			h.Set(HaveWantHeader, want)
		}
		if wait != "" {
			h.Set(HaveWaitHeader, wait)
		}
		w, d, err := haveWait(h, n)
		if err != nil || w == nil {
			if err == nil && (want != "" || wait != "") {
				t.Fatalf("headers %q %q: no wait and no error", want, wait)
			}
			return
		}
		if len(w) != (n+7)/8 || d < time.Millisecond || d > MaxHaveWait {
			t.Fatalf("accepted a want of %d bytes for %d chunks, wait %v", len(w), n, d)
		}
		if again := base64.RawURLEncoding.EncodeToString(w); again != want {
			t.Fatalf("accepted %q, which encodes as %q", want, again)
		}
	})
}
