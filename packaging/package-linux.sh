#!/usr/bin/env bash
# package-linux.sh builds the desktop app and packs it with `fyne package`
# into a Linux tarball (binary, .desktop file, icon; with a Makefile that
# installs them), driven by the repo's FyneApp.toml.
#
#   packaging/package-linux.sh [OUTDIR]     (default OUTDIR: ./dist)
#
# The result is OUTDIR/Kith.tar.xz and its checksum OUTDIR/Kith.tar.xz.sha256
# (sha256sum format). Install it with:
#   tar xJf Kith.tar.xz && cd kith && sudo make install     (or: make user-install)
#
# fyne package is run on a staged copy of FyneApp.toml and the icon, because
# a release build bumps the Build number in the FyneApp.toml it reads; the
# repo's copy stays untouched. The fyne tool (fyne.io/tools v1.7.4) is
# installed into $KITH_TOOLS (default OUTDIR/.tools) on first use.
# Env: GO (default: go), KITH_TOOLS.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
go="${GO:-go}"
fyne_version=v1.7.4

tools="${KITH_TOOLS:-$out/.tools}/fyne-$fyne_version"
fyne="$tools/fyne"
if [ ! -x "$fyne" ]; then
  # Downloaded from the module proxy: a passing network error (a reset, a
  # 5xx, a TLS timeout) gets two more tries before the packaging fails.
  for try in 1 2 3; do
    echo "package: installing fyne.io/tools $fyne_version (try $try)"
    if GOBIN="$tools" GOFLAGS= "$go" install "fyne.io/tools/cmd/fyne@$fyne_version"; then
      break
    fi
    [ "$try" -lt 3 ] || exit 1
    sleep $((try * 5))
  done
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
icon="$(sed -n 's/^Icon *= *"\(.*\)"/\1/p' "$root/FyneApp.toml" | head -1)"
mkdir -p "$stage/$(dirname "$icon")"
cp "$root/FyneApp.toml" "$stage/"
cp "$root/$icon" "$stage/$icon"
# fyne package wants Go code in its source folder even with --executable.
printf 'package main\n\nfunc main() {}\n' > "$stage/main.go"

echo "package: building the app"
(cd "$root" && CGO_ENABLED=1 "$go" build -tags libsqlite3,migrated_fynedo -trimpath -o "$stage/kith" .)

echo "package: fyne package -os linux"
(cd "$stage" && "$fyne" package -os linux --executable "$stage/kith" --src "$stage" --release)
tarball="$(cd "$stage" && ls *.tar.xz)"
mv "$stage/$tarball" "$out/$tarball"
# The checksum a device shows next to the package it offers to neighbours.
(cd "$out" && sha256sum "$tarball" > "$tarball.sha256")
echo "package: $out/$tarball ($(cut -c1-16 "$out/$tarball.sha256")…)"
