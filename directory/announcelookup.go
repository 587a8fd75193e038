package directory

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/kith-media/kith/share/sealed"
)

// A download's start announces the download (so a crowd arriving together
// finds itself) and then looks up the content's suppliers: two round trips
// in a row before the first byte. An announcement may ask for that lookup
// in the same request, POST /v1/announce?suppliers={content}[&limit=N]:
// the directory records the announcement first, exactly as without the
// query, then answers the lookup as GET /v1/suppliers would have (same
// ranking, same policy filter, this announcement already in the index) in
// AnnounceAnswer.SuppliersBin. The lookup costs the asker's rate limits
// what a GET costs (a token of its device and of its address); without
// them, or when a string of the list is not printable ASCII (the binary
// form's rule), the answer has no list and the client asks GET
// /v1/suppliers as before. An older directory ignores the query and
// answers no list either; an older client never asks. &v=N (N >= 2: the
// highest binary form the client reads) asks for SuppliersMediaTypeV2's
// form, with the order of arrival; without it (an older client) the list
// is v1's, and an older directory ignores it and answers v1, which the
// client reads as well.

// announceLookupKey counts, in the requests metric, lookups answered with
// an announcement (the GET route's counter does not see them).
var announceLookupKey = requestsKey("announce_suppliers", http.StatusOK)

// announceLookup is the lookup an announcement asks for.
type announceLookup struct {
	content sealed.ContentID
	limit   int
	v2      bool // SuppliersMediaTypeV2's form (&v=2 or higher)
}

// announceLookupOf reads ?suppliers={content}[&limit=N] of an
// announcement: nil without it, a 400 when it is malformed (before the
// announcement is recorded).
func announceLookupOf(r *http.Request) (*announceLookup, error) {
	if r.URL.RawQuery == "" { // heartbeats: no map parsed
		return nil, nil
	}
	q := r.URL.Query()
	v, ok := q["suppliers"]
	if !ok {
		return nil, nil
	}
	if len(v) != 1 {
		return nil, fieldErrorf("suppliers", "must be given once")
	}
	c, err := sealed.ParseContentID(v[0])
	if err != nil {
		return nil, fieldErrorf("suppliers", "must be 64 hex digits")
	}
	limit, err := intParam(q.Get("limit"), DefaultSuppliers, 1, MaxSuppliers, "limit")
	if err != nil {
		return nil, err
	}
	l := &announceLookup{content: c, limit: limit}
	if v, ok := q["v"]; ok {
		if len(v) != 1 {
			return nil, fieldErrorf("v", "must be given once")
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return nil, fieldErrorf("v", "must be a positive integer")
		}
		l.v2 = n >= 2 // a later client's higher form: the highest this directory writes
	}
	return l, nil
}

// lookupAfterAnnounce appends to b the binary supplier list (SuppliersMediaType)
// of l for dev, whose announcement rec was just recorded; nil when its rate
// limits have no token left, the list has a string the binary form cannot
// carry, or the index of who is online cannot answer (the announcement is
// recorded all the same: the client's GET /v1/suppliers meets that error).
func (s *Server) lookupAfterAnnounce(ctx context.Context, b []byte, rq *request, dev *Device, rec *AnnounceRecord, l *announceLookup) []byte {
	if _, ok := s.ipLimit.allow(clientKey(rq.ip)); !ok {
		return nil
	}
	if _, ok := s.devLim.allow(string(dev.ID)); !ok {
		return nil
	}
	out, done, err := s.rankedSuppliers(ctx, l.content, dev, rq.ip, rec, l.limit)
	if err != nil {
		return nil
	}
	defer done()
	b, ok := appendSuppliersBinary(b, out, l.v2)
	if !ok {
		return nil
	}
	s.metrics.requests.add(announceLookupKey, 1)
	return b
}

// announceLookupAnswer bounds an announcement's answer with a list: the
// list's own bound (base64 in JSON: 4/3 of it) and room for the rest.
type announceLookupAnswer struct{ AnnounceAnswer }

func (*announceLookupAnswer) answerLimits() (int64, string, int) {
	n, _, _ := (*suppliersResponse)(nil).answerLimits()
	return n*4/3 + 64<<10, "", 0
}

// AnnounceSuppliers is AnnounceStatus asking in the same request for the
// suppliers of content (at most n devices, 0 = DefaultSuppliers, plus the
// origin) as they stand once this announcement is recorded: what
// SuppliersN answers after AnnounceStatus, in one round trip. ok is false
// when the directory answered no list (an older directory, a rate limit
// reached, a string the binary form cannot carry): ask SuppliersN then.
// The list is hostile input like SuppliersN's: bounded and checked the
// same way.
func (c *Client) AnnounceSuppliers(ctx context.Context, a Announcement, content sealed.ContentID, n int) (ans *AnnounceAnswer, sups []Supplier, ok bool, err error) {
	path := "/v1/announce?v=2&suppliers=" + content.String()
	if n > 0 {
		path += "&limit=" + strconv.Itoa(n)
	}
	var out announceLookupAnswer
	if err := c.announce(ctx, path, a, &out); err != nil {
		return nil, nil, false, err
	}
	sups, ok, err = out.suppliers()
	if err != nil {
		return nil, nil, false, fmt.Errorf("POST /v1/announce: decoding its suppliers: %w", err)
	}
	return &out.AnnounceAnswer, sups, ok, nil
}

// suppliers takes the list out of the answer (hostile input: decoded with
// GET /v1/suppliers' bounds); !ok when there is none.
func (a *announceLookupAnswer) suppliers() (sups []Supplier, ok bool, err error) {
	bin := a.SuppliersBin
	a.SuppliersBin = nil
	if bin == nil {
		return nil, false, nil
	}
	var r suppliersResponse
	n, _, items := r.answerLimits()
	if int64(len(bin)) > n {
		return nil, false, fmt.Errorf("%w: over %d bytes", errSuppliersBin, n)
	}
	if err := r.decodeBinary(bin, items); err != nil {
		return nil, false, err
	}
	return r.Suppliers, true, nil
}
