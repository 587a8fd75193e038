package pairing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// ErrNotDirectory is wrapped when the other side's proof is wrong: it does
// not know the code, so it is not the directory whose screen showed it.
var ErrNotDirectory = errors.New("this directory could not prove it knows the join code: it is not the one whose screen shows that code")

// JoinOptions say whom to pair with.
type JoinOptions struct {
	URL string // https://host:port of the chosen directory
	// Fingerprint is its fingerprint as listed; the TLS key must match it.
	// "" (an address typed by the user) takes the key the directory
	// presents: the code's proof, bound to that key, authenticates it.
	Fingerprint identity.ID
	Code        Code        // as typed by the user
	Device      identity.ID // the joining device
	Timeout     time.Duration
}

// CheckURL accepts only "https://host[:port]" with no user, path, query or
// fragment, and returns it without a trailing slash.
func CheckURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("directory address: %w", err)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("directory address %q: only https is allowed", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("directory address %q: want https://host:port", s)
	}
	return "https://" + u.Host, nil
}

// AddressURL turns "host:port" as listed or typed by the user (an IP
// address or a DNS name, no zone; an "https://" prefix is allowed) into an
// https URL accepted by CheckURL.
func AddressURL(h string) (string, error) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "https://")
	if len(h) > 255 {
		return "", errors.New("directory address: too long")
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		if ap.Addr().Zone() != "" {
			return "", fmt.Errorf("%q: an address with a zone is not accepted", h)
		}
		return "https://" + ap.String(), nil
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("%q: want host:port, e.g. 192.168.1.20:7443", h)
	}
	for _, c := range []byte(host) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", fmt.Errorf("%q: not a host name", host)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: not a port", port)
	}
	return CheckURL("https://" + net.JoinHostPort(host, port))
}

// Join runs the protocol as the joining device and returns the
// directory's fingerprint only when the directory at o.URL holds that key
// (o.Fingerprint's, when set) and proved it knows o.Code.
func Join(ctx context.Context, o JoinOptions) (identity.ID, error) {
	base, err := CheckURL(o.URL)
	if err != nil {
		return "", err
	}
	if (o.Fingerprint != "" && !o.Fingerprint.Valid()) || !o.Device.Valid() {
		return "", errors.New("pairing: a valid fingerprint and device ID are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var mu sync.Mutex
	var pub ed25519.PublicKey
	tr := &http.Transport{Proxy: nil, ForceAttemptHTTP2: false, TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, // pinned below
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the directory presented no certificate")
				}
				p, err := identity.VerifyCertificate(cs.PeerCertificates[0].Raw, o.Fingerprint)
				if err != nil && o.Fingerprint != "" {
					return fmt.Errorf("the directory's certificate is not the listed fingerprint's: %w", err)
				}
				if err != nil {
					return fmt.Errorf("the directory's certificate: %w", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if pub != nil && !pub.Equal(p) {
					return errors.New("the directory's key changed during pairing")
				}
				pub = p
				return nil
			}}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	nj := make([]byte, NonceSize)
	if _, err := rand.Read(nj); err != nil {
		return "", err
	}
	b, err := post(ctx, hc, base+StartPath, StartRequest{Device: o.Device, Nonce: nj})
	if err != nil {
		return "", err
	}
	sa, err := DecodeStartAnswer(b)
	if err != nil {
		return "", fmt.Errorf("pairing with %s: %w", base, err)
	}
	mu.Lock()
	dirPub := pub
	mu.Unlock()
	if dirPub == nil || (o.Fingerprint != "" && identity.IDFromKey(dirPub) != o.Fingerprint) {
		return "", errors.New("pairing: no verified directory key")
	}
	key := Key(o.Code, dirPub)
	t := Transcript(dirPub, nj, sa.Nonce, o.Device)
	b, err = post(ctx, hc, base+FinishPath, FinishRequest{Session: sa.Session, Proof: JoinerProof(key, t)})
	if err != nil {
		return "", err
	}
	fa, err := DecodeFinishAnswer(b)
	if err != nil {
		return "", fmt.Errorf("pairing with %s: %w", base, err)
	}
	mu.Lock()
	same := pub.Equal(dirPub)
	mu.Unlock()
	if !same || !hmac.Equal(fa.Proof, DirectoryProof(key, t)) {
		return "", ErrNotDirectory
	}
	return identity.IDFromKey(dirPub), nil
}

// RemoteError is an error answer from the directory.
type RemoteError struct {
	Status  int
	Code    string
	Message string
}

func (e *RemoteError) Error() string {
	if e.Code == CodeWrongCode {
		return "wrong join code: check it against the household's screen and try again"
	}
	return fmt.Sprintf("pairing: directory answered %d %s: %s", e.Status, e.Code, e.Message)
}

func post(ctx context.Context, hc *http.Client, u string, body any) ([]byte, error) {
	jb, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(jb))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pairing: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("pairing: reading the answer: %w", err)
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("pairing: the answer is over %d bytes", MaxBody)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		return nil, &RemoteError{Status: resp.StatusCode, Code: clipText(e.Code, 40), Message: clipText(e.Message, 300)}
	}
	return b, nil
}

// clipText keeps printable ASCII and spaces, at most n bytes.
func clipText(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}
