// Package av decodes video and AAC/Opus audio with Debian 12's FFmpeg 5.1
// libraries (libavformat, libavcodec, libswscale, libswresample) over cgo.
// It is Kith's own small binding rather than go-astiav v0.16.0 (the last
// release for FFmpeg 5.1): that one lacks libswresample and a decoder flush,
// both needed here, and a binding this size keeps every C call in view.
//
// # Input, in memory only
//
// Open reads from an io.ReadSeeker — the verified plaintext of a sealed
// title — through a custom AVIOContext whose read and seek callbacks call
// back into Go (a cgo.Handle is the opaque pointer): nothing is written to
// disk and no URL or protocol is ever opened. Reads may block (a title still
// downloading): FFmpeg simply waits, and Close or a cancelled context ends
// the wait through the interrupt callback and AVERROR_EXIT.
//
// Only the expected demuxers (mov/mp4, matroska/webm, ogg for .opus) and
// decoders (h264, vp8, vp9, aac, opus, vorbis) are enabled, through
// format_whitelist and codec_whitelist, and checked again by codec ID before
// a decoder is opened. Probing is bounded (1 MiB, 2 s). FFmpeg's log goes to
// slog from the first Open on (slog.Default, or the logger of SetLogger; warnings
// and errors), never to stderr.
//
// # Output
//
// Media.Next returns the next decoded frame: video converted by swscale to
// RGBA at the size asked for, into one buffer reused for every frame (valid
// until the next call), or audio converted by swresample to interleaved
// stereo float32 at the rate asked for (the player's PCM format). Seek goes
// to the key frame at or before the target and decodes up to it, dropping
// what comes before, so the first frame returned is the one due at the
// target.
//
// # Presenting on the audio clock
//
// A Presenter shows video frames when a Clock (the player's heard
// position) reaches their time, drops and counts frames already more than
// 40 ms late, keeps a wall clock when there is no audio clock, and reports
// Stats (frames presented and dropped, A/V offset p50/p95/max) in the JSON
// shape `kithctl --json play` prints for a video. The player runs one on
// its pump's heard position; Media.SetSize lets it follow the size of the
// app's video view from one frame to the next.
package av
