#!/usr/bin/env bash
# fuzz.sh runs every fuzz target in the module, one after another, for the
# given time each (default 2m), and prints one summary line per target.
# New failing inputs land in the package's testdata/fuzz/ as go test writes them.
set -uo pipefail
cd "$(dirname "$0")/.."
# The same build tags as make (Debian's SQLite; Fyne's fyne.Do migration).
export GOFLAGS=${GOFLAGS:--tags=libsqlite3,migrated_fynedo}
export PATH="/usr/local/go/bin:$PATH"
time=${1:-2m}
# Each new input that widens coverage is minimized first, by default for up
# to 60 s (-fuzzminimizetime), and the run's count of execs stood still
# meanwhile: in a run of a minute or two that can be the whole run. In
# 40 s runs, as default and capped at 5 s: directory's
# FuzzSuppliersDecodeBinary 63 and 213,608 execs, player/av's FuzzOpen 566
# and 62,478, share/tags' FuzzRead 16,344 and 478,755.
minimize=${FUZZMINIMIZE:-5s}
status=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  log=$(mktemp)
  if go test -run '^$' -fuzz="^${name}\$" -fuzztime="$time" -fuzzminimizetime="$minimize" -parallel=2 "$pkg" >"$log" 2>&1; then
    execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1)
    echo "ok    $pkg $name $time ${execs:-}"
  else
    echo "FAIL  $pkg $name"; tail -20 "$log"; status=1
  fi
  rm -f "$log"
done < <(grep -rhoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . -l | while read -r f; do
           grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed "s|^func |$f:|"; done | sed 's|^\./||' | sort)
exit $status
