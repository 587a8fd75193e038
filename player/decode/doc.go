// Package decode turns media bytes into something the player can use: audio
// becomes a seekable stream of PCM, images are decoded for display.
//
// # Sniffing
//
// The format is recognised from the first bytes (Sniff, SniffLen bytes are
// enough), never only from a catalog's media type:
//
//	MP3         "ID3" tag, or an MPEG-1/2/2.5 Layer III frame header
//	            (11-bit sync 0x7FF, valid version, layer, bitrate and rate)
//	Ogg Vorbis  "OggS" page whose first packet is "\x01vorbis"
//	WAV         "RIFF" <size> "WAVE"
//	FLAC        "fLaC"
//	MP4         "ftyp" at offset 4 (MP4, M4A, MOV)
//	Matroska    EBML magic 1A 45 DF A3 (Matroska and WebM)
//	Ogg Opus    "OggS" page whose first packet is "OpusHead"
//	PNG         "\x89PNG\r\n\x1a\n"
//	JPEG        FF D8 FF
//
// Anything else is an *UnsupportedError (errors.Is(err, ErrUnsupported)),
// whose message names what was seen: "unsupported media type: text/plain".
//
// # PCM
//
// Open returns a Stream of interleaved stereo float32 little-endian samples
// (8 bytes per frame) at the rate asked for. MP3, Ogg Vorbis and WAV (8/16-bit)
// use ebiten's decoders (github.com/hajimehoshi/ebiten/v2/audio/...); FLAC
// (any bit depth, mono or stereo; more channels are folded to the first two)
// uses github.com/mewkiz/flac. MP4 (AAC), Matroska/WebM and Ogg Opus go
// through FFmpeg (package player/av, ffmpeg.go): their first audio stream,
// converted by swresample to the output rate; a video's picture is not
// decoded here (the player opens it beside the sound). Mono is duplicated to
// both channels. A stream
// whose rate differs from the output rate is resampled by a polyphase
// windowed-sinc (Kaiser, 64 taps, β = 10) resampler in Go (resample.go),
// streaming and seekable when the decoder is: ≥ 60 dB SNR against soxr's
// highest precision (TestResampleSNR), with no cgo in this package.
//
// A complete MP3 at the output rate starts as a plain stream too (duration
// estimated from the first frame's bitrate): go-mp3 indexes frames by reading
// the whole file, so that pass is put off until the first Seek, when the
// exact length becomes known. Time to first sound does not pay for it.
//
// An MPEG-1 Layer III file with a LAME tag (Xing/Info frame with LAME's
// extension; LAME and FFmpeg write it) is trimmed like FFmpeg trims it
// (gapless.go): the tag's own frame, the encoder delay and the decoder's
// 529 samples at the start, the padding less 529 at the end once the
// length is known (TestMP3GaplessTrim: sample-aligned with FFmpeg's
// decode). Untrimmed, a title started with 51 ms of silence and the
// reported position ran 51 ms ahead of what was heard.
//
// # Progressive sources
//
// With Options.Progressive the source may still be arriving and every read
// past the present part may block. Open then avoids whole-file scans: MP3 and
// Ogg Vorbis are decoded as plain streams (their duration is estimated from
// the first frame's bitrate and the size, and Seek reports ErrNotSeekable);
// WAV and FLAC stay seekable because they seek by arithmetic or seek table.
//
// Nothing here writes to disk or logs sample or media bytes.
package decode
