package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/kith-media/kith/internal/oneline"
)

// check validates an offer as the client receives it (and as the server
// sends it): counts that add up, text fields within maxOfferText bytes,
// UTF-8 without control characters.
func (o *Offer) check() error {
	if o.Size < 0 || o.Chunks < 0 || o.Have < 0 || o.Have > o.Chunks || (o.Complete && o.Have != o.Chunks) {
		return fmt.Errorf("offer of %s: size %d, %d of %d chunks, complete %v", o.Content.String()[:16], o.Size, o.Have, o.Chunks, o.Complete)
	}
	for _, f := range []struct{ name, v string }{{"title", o.TitleID}, {"name", o.Name}, {"artist", o.Artist}, {"media_type", o.MediaType}} {
		if err := checkPeerText(f.name, f.v, maxOfferText); err != nil {
			return fmt.Errorf("offer of %s: %w", o.Content.String()[:16], err)
		}
	}
	return nil
}

// plain makes the offer's shown text (name, artist, media type) one plain
// line, as catalog text and error messages are (oneline.Text): bidi
// controls (U+202E turning "Song\u202Eexe.txt" into "Songtxt.exe",
// U+200E/F, U+2066–2069) and line or paragraph separators become spaces,
// runs of spaces one. It sanitizes rather than refuses because every peer
// so far sends them (it cleans control characters only) and a title a
// directory published before it refused bidi may hold U+200F: refusing
// would lose an honest older neighbour's whole answer for a mark of
// direction. The title ID is not text for people: it is the directory's
// key and stays as sent (a hostile one finds no title; kithctl shows it
// plain).
func (o *Offer) plain() {
	o.Name, o.Artist, o.MediaType = oneline.Text(o.Name, maxOfferText), oneline.Text(o.Artist, maxOfferText),
		oneline.Text(o.MediaType, maxOfferText)
}

// checkPeerText checks a text field from a peer: at most max bytes of
// UTF-8 without control characters.
func checkPeerText(name, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s is %d bytes, more than %d", name, len(v), max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not UTF-8", name)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%s has control character %U", name, r)
		}
	}
	return nil
}

// encodeOffers writes {"offers":[...]} with at most MaxOffers offers and
// at most maxOfferBytes bytes in all: what an honest client accepts. It
// reports how many offers did not fit.
func encodeOffers(offers []Offer) ([]byte, int) {
	var b, e bytes.Buffer
	enc := json.NewEncoder(&e)
	enc.SetEscapeHTML(false) // names full of '<' would grow 6x
	b.WriteString(`{"offers":[`)
	n := 0
	for i := range offers {
		if n == MaxOffers {
			break
		}
		e.Reset()
		if err := enc.Encode(&offers[i]); err != nil || b.Len()+e.Len()+len("]}\n") > maxOfferBytes {
			break
		}
		e.Truncate(e.Len() - 1) // Encode's newline
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(e.Bytes())
		n++
	}
	b.WriteString("]}\n")
	return b.Bytes(), len(offers) - n
}

// errOfferTooLarge: the answer is over maxOfferBytes or MaxOffers.
var errOfferTooLarge = errors.New("offer too large")

// decodeOffers reads an /offer answer one offer at a time, so a hostile
// answer costs at most maxOfferBytes of reading and MaxOffers offers of
// memory, however it is built: more bytes or more offers than that, or an
// offer that fails check, is an error.
func decodeOffers(r io.Reader) ([]Offer, error) {
	lr := &io.LimitedReader{R: r, N: maxOfferBytes + 1}
	dec := json.NewDecoder(lr)
	fail := func(err error) ([]Offer, error) {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w: more than %d bytes", errOfferTooLarge, maxOfferBytes)
		}
		return nil, err
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	var out []Offer
	seen := false
	for fields := 0; dec.More(); fields++ {
		if fields == maxOfferFields {
			return nil, fmt.Errorf("%w: more than %d fields", errOfferTooLarge, maxOfferFields)
		}
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if key, _ := tok.(string); key != "offers" || seen {
			var skip json.RawMessage // unknown fields: a newer peer's; bounded by the byte limit
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		seen = true
		if err := expectDelim(dec, '['); err != nil {
			return fail(err)
		}
		out = []Offer{}
		for dec.More() {
			if len(out) == MaxOffers {
				return nil, fmt.Errorf("%w: more than %d offers", errOfferTooLarge, MaxOffers)
			}
			var o Offer
			if err := dec.Decode(&o); err != nil {
				return fail(err)
			}
			if err := o.check(); err != nil {
				return nil, err
			}
			o.plain()
			out = append(out, o)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return fail(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return fail(err)
	}
	if !seen {
		return nil, errors.New(`no "offers" in the answer`)
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("got %v, want %q", tok, want)
	}
	return nil
}

// cleanText makes s acceptable to checkPeerText: control characters
// become spaces, invalid UTF-8 U+FFFD, and it is cut to max bytes at a
// character boundary. Servers clean what they send, so an honest answer
// always passes the client's checks.
func cleanText(s string, max int) string {
	if checkPeerText("", s, max) == nil {
		return s
	}
	var b []byte
	for _, r := range s { // invalid UTF-8 ranges as U+FFFD
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		if len(b)+utf8.RuneLen(r) > max {
			break
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}
