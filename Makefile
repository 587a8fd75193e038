# Kith — the two commands are `make run` and `make test` (see README.md).
#
# libsqlite3 links Debian's SQLite instead of compiling it from C (about 80 s saved
# on a cold build); migrated_fynedo tells Fyne that every UI update goes through fyne.Do.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -tags=libsqlite3,migrated_fynedo
export LANG := en_US.UTF-8

.PHONY: run test vet bench fuzz build install package demo clean

run: ## build and start the desktop app (installs missing system packages first)
	@scripts/deps.sh run
	go run . $(ARGS)

test: ## vet and run the whole test suite with the race detector (screenshots of each screen land in screenshots/)
	@scripts/deps.sh test
	go vet ./...
	KITH_SCREENSHOTS=$(CURDIR)/screenshots go test -race -count=1 -timeout 40m ./... 2>&1 | tee test.log | grep -Ev '^(=== |--- PASS|PASS$$)'; exit $${PIPESTATUS[0]}
	@# The player's real-device tests (PulseAudio null sink, recorded and analysed) skip
	@# under -race, which drops audio frames on 2 cores; run them once more without it.
	go test -count=1 -timeout 10m ./player/ 2>&1 | tee -a test.log | grep -Ev '^(=== |--- PASS|PASS$$)'; exit $${PIPESTATUS[0]}

vet:
	go vet ./...

build: ## the binaries into ./bin
	@scripts/deps.sh run
	go build -o bin/kith .
	go build -o bin/kith-directory ./directory/cmd/kith-directory
	go build -o bin/kith-relay ./directory/cmd/kith-relay

install: ## go install the binaries
	go install . ./directory/cmd/kith-directory ./directory/cmd/kith-relay

bench: ## every benchmark the issues ask for, each figure beside its baseline
	@scripts/deps.sh test
	scripts/bench.sh

fuzz: ## each fuzz target for FUZZTIME (default 2m)
	scripts/fuzz.sh $(or $(FUZZTIME),2m)

demo: ## the household story across real processes, narrated (needs root: sudo make demo)
	@scripts/deps.sh test
	e2e/demo.sh

package: ## Linux desktop tarball (.desktop + icon, fyne package) and its sha256 into dist/
	@scripts/deps.sh run
	packaging/package-linux.sh dist

clean:
	rm -rf bin dist screenshots test.log
