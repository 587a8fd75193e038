#!/usr/bin/env bash
# demo.sh — watch a Kith household at work, on one machine.
#
#   sudo e2e/demo.sh        (or: sudo make demo)
#
# Builds a small LAN out of Linux network namespaces on one bridge — a
# directory host and three machines A, B and C, each its own process with its
# own data folder — and walks the story with real processes, TLS, mDNS,
# SQLite and audio (a PulseAudio null sink, recorded and analysed):
#
#   1. kith-directory serve; the media source publishes three titles
#   2. A (alice) buys a title, downloads it from the origin, plays it
#   3. B (bob) finds A by mDNS and registers through A; A is credited
#   4. C (alice's second machine) copies from B without a key, cannot play,
#      gets its key from the directory, plays
#   5. A shares a title with its household only; bob is refused
#   6. A is killed mid-transfer to C; C finishes from B and the origin
#   7. the origin uploaded less than title size × devices
#
# It is the end-to-end test (e2e/e2e_test.go) run with narration: the same
# binaries (kith-directory, kithctl), the same checks. Everything it creates
# (namespaces, processes, temporary folders) is removed at the end.
# Needs: root, iproute2, pulseaudio + pulseaudio-utils + libasound2-plugins
# (scripts/deps.sh test installs them), Go.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

if [ "$(id -u)" != 0 ]; then
  echo "demo: network namespaces need root — run: sudo make demo" >&2
  exit 1
fi
for cmd in ip go pulseaudio parecord; do
  if ! command -v "$cmd" >/dev/null; then
    echo "demo: $cmd is missing (scripts/deps.sh test installs what the demo needs)" >&2
    exit 1
  fi
done

echo "Kith household demo — building, then walking the story (about a minute)"
echo
set +e
KITH_E2E_NARRATE=1 go test -tags libsqlite3 -count=1 -timeout 10m -run '^TestHousehold$' -v ./e2e 2>&1 |
  grep --line-buffered -Ev '^(=== RUN|=== PAUSE|=== CONT|PASS$|ok  |FAIL$)'
status=${PIPESTATUS[0]}
set -e
echo
if [ "$status" = 0 ]; then
  echo "demo: every step of the story checked out."
else
  echo "demo: a step failed (see above; each device's log tail is printed)." >&2
fi
exit "$status"
