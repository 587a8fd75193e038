#!/usr/bin/env bash
# cross.sh checks that what can build for Windows does (GOOS=windows, no cgo):
# kith-relay (vet and build), internal/datadir (vet), and every other package
# that needs no cgo (build), except the Linux-only test harnesses. The app
# and kithctl need Linux's ALSA (and FFmpeg, Fyne's OpenGL): Linux only.
# kith-supplier and kith-directory need go-sqlite3 (cgo): with a Windows C
# compiler (x86_64-w64-mingw32-gcc) and without the libsqlite3 tag they build
# (GOFLAGS=-tags=migrated_fynedo CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc),
# not checked here. Not part of make test: from a cold build cache this
# takes 30-60 s on 2 cores (the standard library compiled for Windows), 2 s warm.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--tags=libsqlite3,migrated_fynedo}
export PATH="/usr/local/go/bin:$PATH"
# Packages whose dependencies (as on this machine) have no cgo, less the
# harnesses that drive Linux-only tools (namespaces, PostgreSQL as another
# user, PulseAudio) and the end-to-end tests built on them.
cgo=$(go list -deps -f '{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}' ./...)
pure=$(go list -f '{{if .GoFiles}}{{.ImportPath}} {{join .Deps " "}}{{end}}' ./... |
  awk -v cgo="$cgo" 'BEGIN { n = split(cgo, c); for (i = 1; i <= n; i++) bad[c[i]] = 1 }
    { if ($1 in bad) next; for (i = 2; i <= NF; i++) if ($i in bad) next; print $1 }' |
  grep -vE '/(e2e|internal/netns|internal/pgtest|internal/pulsetest)$')
export GOOS=windows CGO_ENABLED=0
go vet ./internal/datadir ./directory/cmd/kith-relay
go build -o /dev/null ./directory/cmd/kith-relay
go build $pure
echo "windows: kith-relay and $(wc -w <<<"$pure") packages without cgo build"
