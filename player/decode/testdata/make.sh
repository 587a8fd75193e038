#!/bin/sh
# Regenerates the decode fixtures: each is 1 s of 440 Hz then 1 s of 1 kHz
# sine at half scale, so tests can check frequency, order and duration.
# Needs: sox lame vorbis-tools flac (apt-get install -y sox lame vorbis-tools flac).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tone() { # rate channels out
	sox -n -r "$1" -c "$2" -b 16 "$tmp/a.wav" synth 1 sine 440 vol 0.5
	sox -n -r "$1" -c "$2" -b 16 "$tmp/b.wav" synth 1 sine 1000 vol 0.5
	sox "$tmp/a.wav" "$tmp/b.wav" "$3"
}
tone 44100 2 "$tmp/tone44.wav"
tone 48000 1 "$tmp/tone48m.wav"
lame --quiet -b 128 --noreplaygain "$tmp/tone44.wav" tone.mp3
oggenc --quiet -q 3 -o tone.ogg "$tmp/tone44.wav"
flac --silent --force --best -o tone48m.flac "$tmp/tone48m.wav"
# A small mono 8-bit WAV at 22050 Hz (resampled by the player).
sox "$tmp/tone48m.wav" -r 22050 -b 8 tone22m8.wav
ls -l tone.mp3 tone.ogg tone48m.flac tone22m8.wav
