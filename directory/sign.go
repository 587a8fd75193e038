package directory

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/kith-media/kith/share/identity"
)

// Request signature headers.
const (
	HeaderDevice    = "Kith-Device"
	HeaderTime      = "Kith-Time"
	HeaderSignature = "Kith-Signature"
)

// requestDomain separates request signatures from every other ed25519
// signature made with a device key.
const requestDomain = "kith directory request v1\x00"

// RequestSigningBytes returns the bytes a device signs for a request:
//
//	"kith directory request v1\x00" || METHOD || "\n" || path?query || "\n" ||
//	decimal unix milliseconds || "\n" || SHA-256(body)
//
// path?query is the request URI exactly as sent (escaped path, raw query).
func RequestSigningBytes(method, pathQuery string, unixMilli int64, body []byte) []byte {
	sum := sha256.Sum256(body)
	b := make([]byte, 0, len(requestDomain)+len(method)+len(pathQuery)+24+len(sum))
	b = append(b, requestDomain...)
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, pathQuery...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, unixMilli, 10)
	b = append(b, '\n')
	return append(b, sum[:]...)
}

// SignRequest returns the three header values for a request signed by dev.
func SignRequest(dev *identity.Identity, method, pathQuery string, unixMilli int64, body []byte) (device, tm, sig string) {
	s := dev.Sign(RequestSigningBytes(method, pathQuery, unixMilli, body))
	return string(dev.ID()), strconv.FormatInt(unixMilli, 10), base64.StdEncoding.EncodeToString(s)
}

// ParseURL splits a directory URL "https://host:port#FINGERPRINT" into the
// base URL (no fragment, no trailing slash) and the pinned fingerprint. The
// fingerprint is "" when the URL has none (callers that talk to the
// directory then refuse it: see NewClient). Only https is accepted.
func ParseURL(s string) (base string, fingerprint identity.ID, err error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", "", fmt.Errorf("parsing directory url: %w", err)
	}
	if u.Scheme != "https" { // http would send passwords and cards in clear, unpinned
		return "", "", fmt.Errorf("parsing directory url %q: scheme must be https", s)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("parsing directory url %q: no host", s)
	}
	if u.User != nil || u.RawQuery != "" {
		return "", "", fmt.Errorf("parsing directory url %q: no user or query allowed", s)
	}
	if u.Fragment != "" {
		fingerprint, err = identity.ParseID(u.Fragment)
		if err != nil {
			return "", "", fmt.Errorf("parsing directory fingerprint (after # in %q; `kith-directory fingerprint` prints it whole): %w", s, err)
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return strings.TrimRight(u.String(), "/"), fingerprint, nil
}

// FormatURL is the inverse of ParseURL.
func FormatURL(base string, fingerprint identity.ID) string {
	if fingerprint == "" {
		return base
	}
	return base + "#" + string(fingerprint)
}

var errNoDevice = errors.New("directory client: this call needs a device identity (ClientOptions.Device)")
