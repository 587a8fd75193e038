package directory

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// request is what the middleware hands a handler.
type request struct {
	body   []byte  // the whole body, within the limit
	ip     string  // client address as seen by the server
	device *Device // the signing device, for authenticated routes
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, rq *request) error

// statusClientClosed is recorded (metrics, debug log) for a request whose
// client went away before the answer: nginx's 499, never sent.
const statusClientClosed = 499

// statusWriter records the status for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// wrap adds to h: a cap on requests in flight, per-client rate limit
// (an IPv6 /64 is one client), for signed routes a check of the signature
// headers (device enrolled and unrevoked, time inside the window, signature
// well-formed) before any body byte is read, the body limit and budget,
// the signature check, per-device rate limit, panic recovery, error
// answers, metrics and a log line.
func (s *Server) wrap(route string, signed bool, h handlerFunc) http.Handler {
	okKey := requestsKey(route, http.StatusOK) // the usual answer's counter, without building it per request
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		rq := &request{ip: clientIP(r)}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic in %s: %v", route, p)
				}
			}()
			if route == "healthz" {
				return h(w, r, rq)
			}
			if route == "announce" || route == "withdraw" {
				// Holdings are written to the store; when it is slow to
				// take them they pile up, and without a cap of their own
				// they would hold every slot while the lookups a crowd
				// waits on (suppliers, manifest), answered from memory,
				// were refused busy.
				if !s.announceSlot(r.Context()) {
					return busy("too many announcements in flight")
				}
				defer func() { <-s.announcing }()
			}
			if route != "content" { // origin downloads stream for long and hold no body
				select {
				case s.inflight <- struct{}{}:
					defer func() { <-s.inflight }()
				default:
					return busy("too many requests in flight")
				}
			}
			key := clientKey(rq.ip)
			if route != "metrics" {
				if wait, ok := s.ipLimit.allow(key); !ok {
					return rateLimited(wait)
				}
			}
			if route == "accounts" || route == "enroll" || route == "pair" {
				if wait, ok := s.authLim.allow(key); !ok {
					return rateLimited(wait)
				}
			}
			if err := checkConnDevice(r); err != nil {
				return err
			}
			var pre *Device
			var byConn bool
			switch {
			case signed:
				d, conn, err := s.preAuthenticate(r)
				if err != nil {
					return err
				}
				pre, byConn = d, conn
			case route == "enroll":
				if err := s.checkSignatureHeaders(r); err != nil {
					return err
				}
			}
			release, err := s.readBody(w, r, rq, route)
			defer release()
			if err != nil {
				return err
			}
			if signed {
				if !byConn {
					if err := s.verifySignature(r, rq.body, pre.Keys.Sign); err != nil {
						return err
					}
				}
				if pre.Revoked {
					return newError(http.StatusForbidden, CodeForbidden, "device %s is revoked", pre.ID.Short())
				}
				rq.device = pre
				if wait, ok := s.devLim.allow(string(pre.ID)); !ok {
					return rateLimited(wait)
				}
			}
			return h(w, r, rq)
		}()
		switch {
		case err != nil && r.Context().Err() != nil && w.status == 0:
			// The client went away (its context ended the handler's work):
			// nobody reads an answer, and it is not a server failure.
			w.status = statusClientClosed
		case err != nil:
			s.writeError(w, r, route, err)
		}
		if w.status == 0 {
			w.WriteHeader(http.StatusOK)
		}
		key := okKey
		if w.status != http.StatusOK {
			key = requestsKey(route, w.status)
		}
		s.metrics.observe(key, time.Since(start))
		if w.status >= 500 && w.status != http.StatusServiceUnavailable {
			s.log.Error("request failed", "route", route, "method", r.Method, "path", r.URL.Path,
				"status", w.status, "ip", rq.ip, "err", err)
		} else if s.log.Enabled(r.Context(), slog.LevelDebug) { // the arguments cost allocations
			s.log.Debug("request", "route", route, "method", r.Method, "status", w.status,
				"ip", rq.ip, "bytes", w.n, "dur", time.Since(start))
		}
	})
}

func rateLimited(wait time.Duration) error {
	return &retryError{e: newError(http.StatusTooManyRequests, CodeRateLimited,
		"too many requests; retry in %s", wait.Round(time.Millisecond)), wait: wait}
}

// retryError is a 429 with its Retry-After.
type retryError struct {
	e    *Error
	wait time.Duration
}

func (r *retryError) Error() string { return r.e.Error() }

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, route string, err error) {
	var re *retryError
	if errors.As(err, &re) {
		secs := int(math.Ceil(re.wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if re.e.Code == CodeBusy {
			s.metrics.busy.add(route, 1)
		} else {
			s.metrics.rateLimited.add(route, 1)
		}
		writeJSON(w, re.e.Status, re.e)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = newError(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Kith-Signature realm="kith"`)
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"encoding answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeStrict decodes exactly one JSON value with no unknown fields into v,
// turning every failure into a 400 that names the problem.
func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return newError(http.StatusBadRequest, CodeBadRequest, "empty body: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return newError(http.StatusBadRequest, CodeBadRequest, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return newError(http.StatusBadRequest, CodeBadRequest, "field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return newError(http.StatusBadRequest, CodeBadRequest, "truncated JSON")
		default:
			return newError(http.StatusBadRequest, CodeBadRequest, "bad JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, CodeBadRequest, "trailing data after the JSON value")
	}
	return nil
}

// clientIP is the TCP peer address (no proxy headers are trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// verifySignature checks the signature headers against pub and returns the
// signed time.
func (s *Server) verifySignature(r *http.Request, body []byte, pub ed25519.PublicKey) error {
	tm, err := strconv.ParseInt(r.Header.Get(HeaderTime), 10, 64)
	if err != nil {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "missing or malformed %s header (unix milliseconds)", HeaderTime)
	}
	skew := s.now().Sub(time.UnixMilli(tm))
	if skew > s.o.ReplayWindow || skew < -s.o.ReplayWindow {
		return newError(http.StatusUnauthorized, CodeReplay, "request time is %s off the directory clock (allowed ±%s)",
			skew.Round(time.Millisecond), s.o.ReplayWindow)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "missing or malformed %s header", HeaderSignature)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, RequestSigningBytes(r.Method, r.RequestURI, tm, body), sig) {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "bad request signature")
	}
	if !s.replay.add(string(sig), time.UnixMilli(tm).Add(s.o.ReplayWindow), s.now()) {
		s.metrics.replays.add("", 1)
		return newError(http.StatusUnauthorized, CodeReplay, "request replayed: this exact signed request was already received")
	}
	if err := s.seenShared(r, sig, time.UnixMilli(tm).Add(s.o.ReplayWindow)); err != nil {
		return err
	}
	s.metrics.authn.add("signature", 1)
	return nil
}

// checkSignatureHeaders checks the signature headers' form and the time
// window, so a request that cannot be valid is refused before its body is
// read.
func (s *Server) checkSignatureHeaders(r *http.Request) error {
	if _, err := identity.ParseID(r.Header.Get(HeaderDevice)); err != nil {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "this endpoint needs a signed request (%s, %s, %s headers): %s: %v",
			HeaderDevice, HeaderTime, HeaderSignature, HeaderDevice, err)
	}
	tm, err := strconv.ParseInt(r.Header.Get(HeaderTime), 10, 64)
	if err != nil {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "missing or malformed %s header (unix milliseconds)", HeaderTime)
	}
	skew := s.now().Sub(time.UnixMilli(tm))
	if skew > s.o.ReplayWindow || skew < -s.o.ReplayWindow {
		return newError(http.StatusUnauthorized, CodeReplay, "request time is %s off the directory clock (allowed ±%s)",
			skew.Round(time.Millisecond), s.o.ReplayWindow)
	}
	if sig := r.Header.Get(HeaderSignature); base64.StdEncoding.DecodedLen(len(sig)) > ed25519.SignatureSize+2 {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "malformed %s header", HeaderSignature)
	} else if b, err := base64.StdEncoding.DecodeString(sig); err != nil || len(b) != ed25519.SignatureSize {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "missing or malformed %s header", HeaderSignature)
	}
	return nil
}

// preAuthenticate identifies the device a request acts for before its body
// is read: by the connection (byConn) when it names, with no signature, the
// device whose certificate the connection was made with; otherwise by its
// signature headers (well-formed, inside the time window, from an enrolled
// device; the signature itself is verified once the body is read). Either
// way the device is enrolled; a revoked one is refused by the caller.
func (s *Server) preAuthenticate(r *http.Request) (d *Device, byConn bool, err error) {
	if r.Header.Get(HeaderDevice) == "" {
		return nil, false, newError(http.StatusUnauthorized, CodeUnauthorized,
			"this endpoint needs a request naming its device (%s) on a connection made with that device's certificate, or signed (%s, %s headers)",
			HeaderDevice, HeaderTime, HeaderSignature)
	}
	if d, ok, err := s.connAuthenticate(r); ok || err != nil {
		return d, ok, err
	}
	if err := s.checkSignatureHeaders(r); err != nil {
		return nil, false, err
	}
	id, _ := identity.ParseID(r.Header.Get(HeaderDevice))
	d, err = s.device(r.Context(), id)
	if err != nil {
		return nil, false, err
	}
	return d, false, nil // a revoked device is refused once its signature is verified
}

// authenticate identifies the enrolled, unrevoked device r acts for (by its
// connection or its signature over body), for handlers outside the
// signed-route wrapper.
func (s *Server) authenticate(r *http.Request, body []byte) (*Device, error) {
	if err := checkConnDevice(r); err != nil {
		return nil, err
	}
	d, byConn, err := s.preAuthenticate(r)
	if err != nil {
		return nil, err
	}
	if !byConn {
		if err := s.verifySignature(r, body, d.Keys.Sign); err != nil {
			return nil, err
		}
	}
	if d.Revoked {
		return nil, newError(http.StatusForbidden, CodeForbidden, "device %s is revoked", d.ID.Short())
	}
	return d, nil
}
