#!/usr/bin/env bash
# deps.sh installs the Debian packages Kith needs, and only those that are missing.
#
#   scripts/deps.sh run    what building and running the desktop app needs
#   scripts/deps.sh test   that, plus what the test suite drives: a virtual X server,
#                          a PulseAudio null sink to record real playback, network
#                          namespaces, screenshots, tone fixtures, a private
#                          PostgreSQL 15 for the directory's store suite (internal/pgtest),
#                          a private D-Bus for the media keys (app/mpris) and
#                          systemd-analyze to verify the directory's units (packaging)
#
# It needs root (or sudo) only when something is missing.
set -euo pipefail

run_pkgs=(gcc pkg-config libgl1-mesa-dev xorg-dev libasound2-dev libsqlite3-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev)
test_pkgs=(xvfb xauth x11-utils xdotool pulseaudio pulseaudio-utils libasound2-plugins imagemagick iproute2 nftables conntrack sox lame vorbis-tools flac ffmpeg postgresql-15 xz-utils make dbus-daemon systemd)

case "${1:-run}" in
  run) want=("${run_pkgs[@]}") ;;
  test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: Debian 12's own Go is too old; the module needs the version in go.mod.
need=$(awk '/^go /{print $2; exit}' "$(dirname "$0")/../go.mod")
if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin "$HOME/go/bin"; do [ -x "$d/go" ] && export PATH="$d:$PATH"; done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go $need or newer is required (https://go.dev/doc/install); put it on PATH and run again" >&2
  exit 1
fi
