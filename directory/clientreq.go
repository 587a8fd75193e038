package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// parseConnBase parses the client's base URL once for newConnRequest: nil
// when it holds anything whose escaping a later re-parse could spell
// differently (only unreserved characters and '/' in its path).
func parseConnBase(base string) *url.URL {
	u, err := url.Parse(base)
	if err != nil || u.RawPath != "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || !plainPath(u.Path) {
		return nil
	}
	u.Host = strings.TrimSuffix(u.Host, ":") // as NewRequest drops an empty port
	return u
}

// newConnRequest builds a bodiless request as the device on its
// certificate's connection (every supplier lookup) from the base URL parsed
// once, with the shared header h (connHeaderFor): NewRequestWithContext joined base and
// path, parsed them again and made a header map that connHeader then
// replaced (three of a lookup's allocations, and the parse). It returns nil
// (the caller takes the general way) when the path is not plain, or when
// what NewRequestWithContext would check or refuse could be involved.
func (c *Client) newConnRequest(ctx context.Context, method, path string, h http.Header) *http.Request {
	if c.baseURL == nil || ctx == nil || method != http.MethodGet || !plainPath(path) {
		return nil
	}
	u := new(url.URL)
	*u = *c.baseURL
	u.Path += path
	r := http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Host: u.Host}
	return r.WithContext(ctx)
}

// plainPath reports whether p is made only of '/' and the characters a URL
// path never escapes (RFC 3986 unreserved): it then reads the same parsed
// and unparsed.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '/', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// send sends req and returns the answer (its body for the caller to
// close). On the client's own transport it calls RoundTrip directly:
// http.Client.Do copies the request's header on every call in case it
// follows a redirect (~2 µs of a lookup's client CPU), and the directory
// never redirects — a 3xx answer is returned as it is (an error to the
// callers, who want 2xx) rather than followed, so a request as the device
// is never sent on to another URL. Errors read as Do's (*url.Error, "Get
// \"https://…\": …"). With a caller's HTTPClient, that client's Do (its
// redirect policy, timeout and jar).
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.own == nil {
		return c.hc.Do(req)
	}
	resp, err := c.own.RoundTrip(req)
	if err != nil {
		closeBody(req)
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// resendable reports whether err is a signed request's loss with its
// connection before any answer (unansweredError): the caller builds the
// request again — signed anew, so the directory does not refuse it as a
// replay of the first, which it may have received — and sends it once
// more (the transport sends again by itself only unsigned requests).
func resendable(err error) bool {
	var ue *unansweredError
	return errors.As(err, &ue)
}

// sendBuilt sends the request build makes; one lost with its connection
// before any answer (resendable) is built again — signed anew — and sent
// once more.
func (c *Client) sendBuilt(build func() (*http.Request, error)) (*http.Response, error) {
	for resent := false; ; resent = true {
		req, err := build()
		if err != nil {
			return nil, err
		}
		resp, err := c.send(req)
		if err != nil && !resent && resendable(err) {
			continue
		}
		return resp, err
	}
}

// urlErrorOp is http.Client's Op of a *url.Error for method: "Get",
// "Post"… (methods are ASCII tokens: NewRequest refuses others).
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// raw GETs a binary answer.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, anonymous, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return b, nil
}

// newRequest builds a request to the directory as a says, asking for the
// answer in the accept media type when not "". A bodiless request as the
// device on its certificate's connection carries a shared header
// (connHeaderFor): a caller adding a header clones it first.
func (c *Client) newRequest(ctx context.Context, method, path string, body []byte, a auth, accept string) (*http.Request, error) {
	shared := c.connHeaderFor(accept)
	if body == nil && a == asDevice && c.dev != nil && c.byConnection() && shared != nil {
		if req := c.newConnRequest(ctx, method, path, shared); req != nil {
			return req, nil
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case a == anonymous:
	case c.dev == nil:
		return nil, errNoDevice
	case a == asDevice && c.byConnection() && body == nil && shared != nil:
		// The connection is made with the device's certificate: naming
		// the device is enough (the directory checks they agree).
		req.Header = shared
		return req, nil
	case a == asDevice && c.byConnection():
		req.Header.Set(HeaderDevice, string(c.dev.ID()))
	default:
		d, t, s := SignRequest(c.dev, method, req.URL.RequestURI(), c.signTime(), body)
		req.Header.Set(HeaderDevice, d)
		req.Header.Set(HeaderTime, t)
		req.Header.Set(HeaderSignature, s)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return req, nil
}

// connHeaderFor is the shared header of a bodiless request as the device
// on its certificate's connection asking for accept ("": any), or nil when
// there is none for that type (or no device).
func (c *Client) connHeaderFor(accept string) http.Header {
	switch accept {
	case "":
		return c.connHeader
	case suppliersAccept:
		return c.suppliersHeader
	}
	return nil
}

// byConnection reports whether requests as the device go unsigned on
// connections made with its certificate.
func (c *Client) byConnection() bool { return c.byConn && !c.signAll.Load() }

// do sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, in any, a auth, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", method, path, err)
		}
	}
	accept := ""
	if _, ok := out.(binaryAnswer); ok {
		accept = suppliersAccept
	}
	var resp *http.Response
	resent := false
	for {
		byConn := a == asDevice && c.byConnection()
		req, err := c.newRequest(ctx, method, path, body, a, accept)
		if err != nil {
			return err
		}
		resp, err = c.send(req)
		if err != nil && !resent && resendable(err) {
			resent = true
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if byConn && resp.StatusCode == http.StatusUnauthorized && !c.certAsked.Load() {
			// A directory that never asked for the certificate cannot
			// authenticate by connection: sign from now on.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			c.log.Info("directory does not authenticate devices by certificate; signing requests")
			c.signAll.Store(true)
			continue
		}
		break
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	limit, list, items := int64(maxResponse), "", 0
	if ba, ok := out.(boundedAnswer); ok {
		limit, list, items = ba.answerLimits()
	}
	b, err := readAnswer(resp, limit)
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	defer putAnswer(b)
	if int64(len(b)) > limit {
		return fmt.Errorf("%s %s: answer over %d bytes", method, path, limit)
	}
	if ba, ok := out.(binaryAnswer); ok && binaryAnswered(resp.Header, accept) {
		if err := ba.decodeBinary(b, items); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
		return nil
	}
	if fd, ok := out.(fastDecoder); ok && fd.decodeFast(b) {
		// The exact form: at least ~100 bytes an element, so the byte
		// limit bounded the memory; count what came.
		if list != "" && fd.items() > items {
			return fmt.Errorf("%s %s: answer with more than %d %s", method, path, items, list)
		}
		return nil
	}
	if list != "" {
		if n, err := countListItems(b, list, items); err != nil || n > items {
			return fmt.Errorf("%s %s: answer with more than %d %s, or malformed: %v", method, path, items, list, err)
		}
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}
