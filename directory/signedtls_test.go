package directory_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// tlsClient is a plain HTTP client for a test directory's real TLS
// listener, for requests the directory client would not send as they are
// (its certificate pinning is the directory client's, not tested here).
func tlsClient(t testing.TB) *http.Client {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// signedDo sends method path (with body, and the header pairs hdr) to the
// directory at addr over hc, signed by dev now, and returns the answer
// with its body read.
func signedDo(t testing.TB, hc *http.Client, addr string, dev *identity.Identity, method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	d, ts, sig := directory.SignRequest(dev, method, path, time.Now().UnixMilli(), body)
	req.Header.Set(directory.HeaderDevice, d)
	req.Header.Set(directory.HeaderTime, ts)
	req.Header.Set(directory.HeaderSignature, sig)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// unlimitedDir serves a real directory on SQLite over real TLS with no
// rate limits (a test's many requests from one address are not a crowd's
// abuse) and returns it, its store and a random content ID.
func unlimitedDir(t testing.TB) (*dirtest.Directory, *sqlitestore.Store, sealed.ContentID) {
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	var cid sealed.ContentID
	rand.Read(cid[:])
	return d, d.Store.(*sqlitestore.Store), cid
}
