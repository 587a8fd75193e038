package peer

// The chunk wire: the peer protocol's requests as length-prefixed binary
// frames over the pair's mutually authenticated TLS connection, chosen by
// ALPN (WireProto) before "h2" and "http/1.1", so a peer that does not
// offer it keeps speaking HTTP.
//
// Over HTTP/2 a chunk went through the client's read loop, a per-stream
// pipe and the caller's Read (two copies beyond TLS's), and through the
// server's frame writer (a copy), with HPACK, flow control and a goroutine
// hop per frame at both ends. On the wire a request is one frame, its
// answer one frame: the client's caller reads the answer's body straight
// from the TLS connection into its chunk buffer, the server writes the
// chunk from its read buffer.
//
// The requests are the same HTTP requests (method, path, a few headers,
// a small body) served by the same handlers (Server.Handler): the caller's
// device from the connection's certificate, the owner's copy policy,
// upload slots and the upload ledger are the HTTP path's, not a copy of
// them. Several requests are in flight on one connection, each tagged;
// the server answers each once, in any order.
//
// Frames (big-endian), every one bounded before it is read:
//
//	frame   = length:u32 type:u8 tag:u32 payload   (length counts type, tag, payload)
//	request = method:u8 pathlen:u16 path hdrlen:u16 headers body        (type 1, client → server; WireProto2 both ways)
//	cancel  = (no payload)                                              (type 2, client → server; WireProto2 both ways)
//	answer  = status:u16 hdrlen:u16 headers body                        (type 3, server → client; WireProto2 both ways)
//	headers = { namelen:u8 name vallen:u16 value }
//
// A request frame is at most maxWireRequest bytes, an answer's headers
// at most 64 KiB and its body at most maxWireBody (the largest answer the
// client reads: a manifest, or a chunk of the largest size sealed allows);
// a body written in pieces is kept at most maxWireBuffered (a manifest's
// bound) until its handler returns. An answer a handler makes longer, or
// shorter than its Content-Length, is replaced by a 500 (a longer one
// before any of its bytes are taken). A client keeps at most maxStreams
// requests in flight, each from its request frame until the last byte
// of its answer (the server ends a request when its handler returns,
// after the answer's head and most of its body went out); one that sends
// more, or a malformed frame, loses the connection.
//
// This file has the frames; chunkwire_server.go serves them,
// chunkwire_client.go sends them and chunkwire_body.go reads an answer's body.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kith-media/kith/share/sealed"
)

// WireProto is the ALPN protocol ID of the chunk wire.
const WireProto = "kith-wire/1"

// WireProto2 is the chunk wire both ways: the same frames, but either end
// may send requests (and cancels) and the other answers them, so a pair of
// devices that download from each other needs one connection, one mutual
// handshake. A request frame is served by the receiving end's handlers as
// one from the device whose certificate that end verified in the
// handshake (the server's client certificate, the client's pinned server
// certificate). The tags of the two directions are separate: a request or
// cancel frame belongs to the receiver's serving side, an answer to its
// asking side. A client offers it only when it runs a peer server of its
// own (ClientOptions.Server), before WireProto; a server prefers it.
const WireProto2 = "kith-wire/2"

// Frame types.
const (
	wireRequest byte = 1
	wireCancel  byte = 2
	wireAnswer  byte = 3
)

// Wire bounds.
const (
	wireHead        = 9                     // length, type, tag
	maxWireRequest  = 96 << 10              // a request frame after its length
	maxWirePath     = 2048                  // a request's path
	maxWireHeaders  = 64                    // header lines of a request or an answer
	maxWireReqBody  = 64 << 10              // a request's body (a relayed registration)
	maxWireHdrBlock = 1<<16 - 1             // an answer's header block
	maxWireBuffered = maxManifestBytes + 64 // an answer's body the server keeps (one not written as a whole)

	// An answer's body: a manifest, or a chunk of the largest size
	// sealed allows (a content sealed with 16 MiB chunks).
	maxWireBody = max(maxManifestBytes, sealed.MaxChunkSize+sealed.Overhead) + 64
)

var errWireFrame = errors.New("malformed wire frame")

// urlOp is the Op of the *url.Error http.Client.Do returns for method.
func urlOp(method string) string {
	return strings.ToUpper(method[:1]) + strings.ToLower(method[1:])
}

// replayable reports whether req (its body read into body) may be sent
// again on a new connection when the one it went out on closed before
// any answer, by net/http's rule: a GET or HEAD without a body, or a
// request whose Idempotency-Key header says sending it twice does what
// sending it once does, and whose body can be read again (GetBody).
func replayable(req *http.Request, body []byte) bool {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return body == nil
	}
	return req.GetBody != nil && (req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != "")
}

func wireErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errWireFrame, fmt.Sprintf(format, a...))
}

var wireMethods = [...]string{1: http.MethodGet, 2: http.MethodPost}

func wireMethod(m string) (byte, bool) {
	for i, s := range wireMethods {
		if s != "" && s == m {
			return byte(i), true
		}
	}
	return 0, false
}

// appendHeaders appends h's lines (names canonical, in any order); false
// when they are more than maxWireHeaders lines, a name over 255 bytes or
// a value over 65,535.
func appendHeaders(b []byte, h http.Header) ([]byte, bool) {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n++
			if n > maxWireHeaders || len(k) > 255 || len(v) > 1<<16-1 {
				return b, false
			}
			b = append(b, byte(len(k)))
			b = append(b, k...)
			b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
			b = append(b, v...)
		}
	}
	return b, true
}

// parseHeaders reads a header block: at most maxWireHeaders lines, names
// of token characters, values without control characters but tab. The
// lines are checked first; then the block becomes one string, of which
// the names and values are slices, and the values share one backing
// array: four allocations a block with the map's, not three a line more
// (a sixth of the allocations a chunk request cost both ends, and the
// largest count in a crowd process's allocs profile).
func parseHeaders(b []byte) (http.Header, error) {
	n := 0
	for p := b; len(p) > 0; n++ {
		if n == maxWireHeaders {
			return nil, wireErr("more than %d header lines", maxWireHeaders)
		}
		kl := int(p[0])
		if kl == 0 || len(p) < 1+kl+2 {
			return nil, wireErr("header line cut short")
		}
		k := p[1 : 1+kl]
		vl := int(binary.BigEndian.Uint16(p[1+kl:]))
		p = p[1+kl+2:]
		if len(p) < vl {
			return nil, wireErr("header value cut short")
		}
		v := p[:vl]
		p = p[vl:]
		for _, c := range k {
			if !tokenChar(c) {
				return nil, wireErr("header name %q", k)
			}
		}
		for _, c := range v {
			if c < ' ' && c != '\t' || c == 0x7f {
				return nil, wireErr("control character in header %s", k)
			}
		}
	}
	h := make(http.Header, n)
	if n == 0 {
		return h, nil
	}
	blk := string(b)
	vals := make([]string, n)
	for j, at := 0, 0; j < n; j++ {
		kl := int(blk[at])
		k := blk[at+1 : at+1+kl]
		vl := int(binary.BigEndian.Uint16(b[at+1+kl:]))
		at += 1 + kl + 2
		vals[j] = blk[at : at+vl]
		at += vl
		key := http.CanonicalHeaderKey(k) // no copy when k is canonical, as Go's senders' names are
		if vs, ok := h[key]; ok {
			h[key] = append(vs, vals[j])
		} else {
			h[key] = vals[j : j+1 : j+1] // its own cap: an append to it leaves the next value alone
		}
	}
	return h, nil
}

func tokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// wireReq is a decoded request frame.
type wireReq struct {
	typ    byte
	tag    uint32
	method string
	path   string
	header http.Header
	body   []byte
}

// encodeRequest is the request frame of tag (nil when it cannot go on the
// wire: another method, a path, headers or a body over the bounds).
func encodeRequest(tag uint32, method, path string, h http.Header, body []byte) ([]byte, error) {
	m, ok := wireMethod(method)
	if !ok {
		return nil, fmt.Errorf("chunk wire: method %s not carried", method)
	}
	if len(path) == 0 || path[0] != '/' || len(path) > maxWirePath {
		return nil, fmt.Errorf("chunk wire: path of %d bytes", len(path))
	}
	if len(body) > maxWireReqBody {
		return nil, fmt.Errorf("chunk wire: request body of %d bytes, more than %d", len(body), maxWireReqBody)
	}
	b := make([]byte, wireHead, wireHead+1+2+len(path)+2+64+len(body))
	b[4] = wireRequest
	binary.BigEndian.PutUint32(b[5:], tag)
	b = append(b, m)
	b = binary.BigEndian.AppendUint16(b, uint16(len(path)))
	b = append(b, path...)
	at := len(b)
	b = append(b, 0, 0)
	b, ok = appendHeaders(b, h)
	if !ok || len(b)-at-2 > maxWireHdrBlock {
		return nil, errors.New("chunk wire: request headers over the bounds")
	}
	binary.BigEndian.PutUint16(b[at:], uint16(len(b)-at-2))
	b = append(b, body...)
	if len(b)-4 > maxWireRequest {
		return nil, fmt.Errorf("chunk wire: request of %d bytes, more than %d", len(b)-4, maxWireRequest)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// readRequest reads one client frame (a request or a cancel).
func readRequest(r io.Reader) (*wireReq, error) {
	var head [wireHead]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	q := &wireReq{typ: head[4], tag: binary.BigEndian.Uint32(head[5:])}
	switch {
	case n < 5:
		return nil, wireErr("frame length %d", n)
	case q.typ == wireCancel:
		if n != 5 {
			return nil, wireErr("cancel of %d bytes", n)
		}
		return q, nil
	case q.typ != wireRequest:
		return nil, wireErr("frame type %d from a client", q.typ)
	case n > maxWireRequest:
		return nil, wireErr("request of %d bytes, more than %d", n, maxWireRequest)
	}
	b := make([]byte, n-5)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: request cut short: %w", errWireFrame, err)
	}
	return q, parseRequest(q, b)
}

func parseRequest(q *wireReq, b []byte) error {
	if len(b) < 3 {
		return wireErr("request cut short")
	}
	if int(b[0]) >= len(wireMethods) || wireMethods[b[0]] == "" {
		return wireErr("method %d", b[0])
	}
	q.method = wireMethods[b[0]]
	pl := int(binary.BigEndian.Uint16(b[1:]))
	b = b[3:]
	if pl == 0 || pl > maxWirePath || len(b) < pl+2 {
		return wireErr("path of %d bytes", pl)
	}
	q.path = string(b[:pl])
	if q.path[0] != '/' {
		return wireErr("path %q", q.path)
	}
	for _, c := range b[:pl] {
		if c <= ' ' || c >= 0x7f {
			return wireErr("path %q", q.path)
		}
	}
	hl := int(binary.BigEndian.Uint16(b[pl:]))
	b = b[pl+2:]
	if len(b) < hl {
		return wireErr("headers cut short")
	}
	h, err := parseHeaders(b[:hl])
	if err != nil {
		return err
	}
	q.header = h
	if len(b)-hl > maxWireReqBody {
		return wireErr("request body of %d bytes", len(b)-hl)
	}
	q.body = b[hl:]
	return nil
}

// answerHead is an answer frame up to its body: the frame's head, status
// and headers; false when the headers are over the bounds.
func answerHead(tag uint32, status int, h http.Header, bodyLen int) ([]byte, bool) {
	b := make([]byte, wireHead+4, wireHead+4+128)
	b[4] = wireAnswer
	binary.BigEndian.PutUint32(b[5:], tag)
	binary.BigEndian.PutUint16(b[wireHead:], uint16(status))
	b, ok := appendHeaders(b, h)
	hl := len(b) - wireHead - 4
	if !ok || hl > maxWireHdrBlock {
		return nil, false
	}
	binary.BigEndian.PutUint16(b[wireHead+2:], uint16(hl))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4+bodyLen))
	return b, true
}

// wireAns is an answer frame's head as the client reads it; its body
// (bodyLen bytes) follows on the connection.
type wireAns struct {
	tag     uint32
	status  int
	header  http.Header
	bodyLen int64
}

// readAnswerHead reads an answer frame up to its body.
func readAnswerHead(r io.Reader) (*wireAns, error) {
	var head [wireHead + 4]byte
	if _, err := io.ReadFull(r, head[:wireHead]); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(head[:]))
	if head[4] != wireAnswer {
		return nil, wireErr("frame type %d from a server", head[4])
	}
	if n < 5+4 || n > 5+4+maxWireHdrBlock+maxWireBody {
		return nil, wireErr("answer of %d bytes", n)
	}
	if _, err := io.ReadFull(r, head[wireHead:]); err != nil {
		return nil, fmt.Errorf("%w: answer cut short: %w", errWireFrame, err)
	}
	a := &wireAns{tag: binary.BigEndian.Uint32(head[5:]), status: int(binary.BigEndian.Uint16(head[wireHead:]))}
	hl := int64(binary.BigEndian.Uint16(head[wireHead+2:]))
	if a.status < 100 || a.status > 999 {
		return nil, wireErr("status %d", a.status)
	}
	a.bodyLen = n - 5 - 4 - hl
	if a.bodyLen < 0 || a.bodyLen > maxWireBody {
		return nil, wireErr("answer body of %d bytes", a.bodyLen)
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("%w: answer cut short: %w", errWireFrame, err)
	}
	h, err := parseHeaders(hb)
	if err != nil {
		return nil, err
	}
	a.header = h
	return a, nil
}

// readBoth reads the next frame of a WireProto2 connection: a request or
// a cancel of the peer's (q), or the head of an answer to one of ours (a;
// its body follows on r).
func readBoth(r *bufio.Reader) (q *wireReq, a *wireAns, err error) {
	h, err := r.Peek(5)
	if err != nil {
		return nil, nil, err
	}
	if h[4] == wireRequest || h[4] == wireCancel {
		q, err = readRequest(r)
		return q, nil, err
	}
	a, err = readAnswerHead(r)
	return nil, a, err
}
