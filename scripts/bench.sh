#!/usr/bin/env bash
# bench.sh runs every benchmark the issues ask for, one package at a time
# (they share 2 cores; running them together would measure the contention),
# saves go test's raw output to bench.txt, and prints each figure beside its
# baseline through internal/benchreport (pairs in scripts/bench-pairs.txt).
#
#   scripts/bench.sh            all of them (hours: BenchmarkFlashCrowd runs 16 crowds up to 500 devices)
#   scripts/bench.sh sealed     only the lines whose package matches "sealed"
set -uo pipefail
cd "$(dirname "$0")/.."
# The same build tags as make (Debian's SQLite; Fyne's fyne.Do migration).
export GOFLAGS=${GOFLAGS:--tags=libsqlite3,migrated_fynedo}
export PATH="/usr/local/go/bin:$PATH"
filter=${1:-}
out=bench.txt
: > "$out"

# package | -bench regexp | -benchtime
plan=(
  "./share/sealed/|Cipher|SealedRead|BareAEAD|RandomRead4KiB|Seal$|ChunkHash|1s"
  "./share/identity/|MutualTLSHandshake|SealTo|OpenSealed|1s"
  "./directory/license/|Issue|Open|1s"
  "./directory/cmd/kith-directory/|BenchmarkDirectory|20000x"
  "./directory/|OnlineIndexGC|20x"                 # one GC cycle over BenchmarkDirectory's online index
  "./directory/|OnlineIndexSuppliers|300000x"      # the index's part of a lookup over the same index
  "./directory/|SuppliersDecode|SuppliersEncode|1s" # a lookup answer's decode (client) and encode (server), binary and JSON
  "./directory/cmd/kith-directory/|BenchmarkPurchasesPostgres|4000x"
  "./directory/sqlitestore/|AnnounceChanged|2000x"  # an announcement whose holdings changed (a download's start, its completion)
  "./directory/|HeartbeatUnchanged|2000x"          # a heartbeat repeating the stored announcement (no write) vs one that changed
  "./directory/cmd/kith-directory/|BenchmarkSecurity|1x"
  "./share/peer/|Throughput|3x"
  "./share/peer/|FirstChunk|20x"                  # also BenchmarkRelayFirstChunk (direct and relayed)
  "./share/peer/|Request|2000x"                   # CPU of one /have poll and one chunk request: chunk wire, HTTP/2, HTTP/1.1
  "./directory/relay/|RelayThroughput|3x"
  "./share/peer/|HostileOffer|1x"
  "./share/|CrowdBound|3x"                        # the flash crowd's bounds alone (tlsBound, cryptoBound; storeBound beside them)
  "./share/|KernelCost|3x"                        # what a system call and a page fault cost on this machine (read x_bound against them)
  "./share/|ChunkPath|5x"                         # the chunk path alone (16 downloads from one holder, stored) vs tlsBound, same run
  "./share/library/|WriteChunks|5x"               # the store's part of it: 16 downloads' WriteChunk (check, page cache, writeback, fsync, index)
  "./share/|FlashCrowd|1x"
  "./share/|NeighbourFirstPCM|20x"
  "./share/|NeighbourFirstFrame|10x"              # makes a 20 s 1080p30 clip with ffmpeg first
  "./player/|TimeToFirstPCM|TimeToFirstSound|30x"
  "./player/|PeakRSS1GiB|1x"
  "./player/|PeakRSSVideo1GiB|1x"                # makes a 1 GiB 1080p video first (ffmpeg remux), removed after
  "./player/decode/|Decode|1s"
  "./player/av/|Decode1080p30|FirstFrame|3x"
  "./app/wire/|Startup10k|5x"
  "./app/wire/|StartupMusic50k|3x"
  "./app/|MusicFilter50k|40x"
  "./share/|AddFolder|1x"
  "./app/wire/|UIDuringDownloads|1x"
  "./app/wire/|VideoUnderXvfb|1x"                # 720p30 in the real window under Xvfb, normal and real-time priority
)
for line in "${plan[@]}"; do
  pkg=${line%%|*}
  rest=${line#*|}
  benchtime=${rest##*|}
  regex=${rest%|*}
  [[ -n "$filter" && "$pkg" != *"$filter"* ]] && continue
  echo "== $pkg -bench '$regex' -benchtime $benchtime" | tee -a "$out"
  go test -run '^$' -bench "$regex" -benchtime "$benchtime" -benchmem -timeout 180m "$pkg" 2>&1 | tee -a "$out" | grep -E '^(Benchmark|ok|FAIL|---)'
done
echo
go run ./internal/benchreport/cmd/benchreport -pairs scripts/bench-pairs.txt < "$out"
