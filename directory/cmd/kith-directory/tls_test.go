package main

import (
	"crypto/tls"
	"net/http"
	"sync"
)

var (
	insecureOnce sync.Once
	insecureHC   *http.Client
)

// insecureClient skips certificate checks: only for tests crafting raw
// requests (the directory.Client pins the fingerprint).
func insecureClient() *http.Client {
	insecureOnce.Do(func() {
		insecureHC = &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
			MaxIdleConnsPerHost: 64,
		}}
	})
	return insecureHC
}
