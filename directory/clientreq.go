package directory

import (
	"context"
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
