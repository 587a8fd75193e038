#!/bin/sh
# clips.sh OUTDIR — makes the small clips package av's tests decode, with
# Debian's ffmpeg (scripts/deps.sh test installs it). Every clip but the last is 4 s at
# 25 fps: frame N is a uniform grey of luma 2·N (so a decoded frame names
# its own index), except frame 50 (2.0 s), which is white; the sound is
# silence except a 1 kHz beep from 2.0 s to 2.1 s (the flash).
set -eu
out=${1:?usage: clips.sh OUTDIR}
mkdir -p "$out"
video="color=c=black:s=320x240:r=25:d=4,format=yuv420p,geq=lum='if(eq(N\,50)\,255\,2*N)':cb=128:cr=128"
beep() { echo "aevalsrc='if(between(t\,2\,2.1)\,0.5*sin(2*PI*1000*t)\,0)':s=$1:c=stereo:d=4"; }
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# MP4: H.264 + AAC (key frame every second; index first, so it plays while
# downloading).
ff -f lavfi -i "$video" -f lavfi -i "$(beep 48000)" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p \
	-c:a aac -b:a 128k -shortest -movflags +faststart "$out/h264-aac.mp4"
# WebM: VP9 + Opus.
ff -f lavfi -i "$video" -f lavfi -i "$(beep 48000)" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 25 -b:v 300k \
	-c:a libopus -b:a 96k -shortest "$out/vp9-opus.webm"
# WebM: VP8 + Vorbis.
ff -f lavfi -i "$video" -f lavfi -i "$(beep 44100)" -c:v libvpx -deadline realtime -cpu-used 8 -g 25 -b:v 300k \
	-c:a libvorbis -q:a 3 -shortest "$out/vp8-vorbis.webm"
# Audio titles: AAC in MP4 (.m4a) and Opus in Ogg (.opus).
ff -f lavfi -i "$(beep 44100)" -c:a aac -b:a 128k "$out/beep.m4a"
ff -f lavfi -i "$(beep 48000)" -c:a libopus -b:a 96k "$out/beep.opus"
# Sync: 10 s of H.264 + AAC at 25 fps (frame N has luma 2·(N mod 100)),
# white flashes with 1 kHz beeps at 2, 5 and 8 s (frames 50, 125, 200).
flashes="eq(N\,50)+eq(N\,125)+eq(N\,200)"
ff -f lavfi -i "color=c=black:s=320x240:r=25:d=10,format=yuv420p,geq=lum='if($flashes\,255\,2*mod(N\,100))':cb=128:cr=128" \
	-f lavfi -i "aevalsrc='if(between(t\,2\,2.1)+between(t\,5\,5.1)+between(t\,8\,8.1)\,0.5*sin(2*PI*1000*t)\,0)':s=48000:c=stereo:d=10" \
	-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -c:a aac -b:a 128k -shortest -movflags +faststart "$out/sync-10s.mp4"
