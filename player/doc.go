// Package player plays titles from the library: it opens a title through a
// Source (decrypting in memory), decodes it with package decode, and feeds
// PCM to an Output, keeping a queue, a clock and the controls. It never
// imports Fyne: the app subscribes to events and calls the controls.
//
// # Pipeline
//
//	Source.Open ─► Media (io.ReadSeeker, plaintext in memory only)
//	   └► decode.Open ─► feeder goroutine ─► blocks (≈ 0.7 s queue per track)
//	                                             └► pump (io.Reader) ─► Output (oto/ALSA)
//
// Each track has a feeder goroutine that reads and decodes ahead into a
// bounded channel of PCM blocks (1024 frames each, at most 48 ≈ 1.1 s). A
// title is handed to the output once 16 blocks (≈ 370 ms) are decoded, or
// 150 ms after its first block: the output takes its buffers' worth (oto's
// 200 ms player buffer + a 100 ms device buffer by default) in one burst. The pump, pulled by the output device,
// takes blocks from the current track and, at its end, from the next track,
// which was opened and decoded ahead (gapless). When no block is ready the
// pump hands out silence, so the device never stalls.
//
// # Clock
//
// ebiten's Player.Position does not move without its game loop, so the
// player keeps its own: the pump counts frames handed to the output and
// marks where each track (and each seek) starts in that count; the position
// is frames handed − frames still buffered in the output (Output.Buffered,
// oto's BufferedSize plus the device buffer), mapped back to the track that
// was playing at that frame. Track changes and the end of the queue are
// reported when they become audible, not when they are decoded.
//
// # Output
//
// OtoOutput drives github.com/ebitengine/oto/v3 (ebiten's own output layer;
// the root ebiten package is never imported, so there is no game loop). oto
// allows one context per process: every OtoOutput shares it, at one rate.
// Tests use a fake Output; the real one is checked against a PulseAudio null
// sink (internal/pulsetest).
//
// # States and events
//
// Subscribe delivers Events: state changes (stopped, playing, paused,
// buffering, no-output, error), the position about four times a second,
// track changes (with a saved resume position, if any), images (PNG/JPEG
// titles are shown, not played) and errors. No audio device is StateNoOutput
// with "no audio output available: ..."; damaged content mid-play (a
// sealed.ChunkError) stops playback with an error event, and nothing past the
// damaged chunk is played (the sealed reader never releases it).
//
// # Play while downloading
//
// Media may block on reads (a sealed reader waiting for chunks). A read in
// progress for more than BufferingAfter switches to StateBuffering; the
// optional Prefetcher is told the title and byte offset being read (on open,
// on seek and as playback moves), so the fetcher can fetch there first.
//
// # Secrets
//
// No plaintext media, PCM or key reaches the disk or the logs: there are no
// temp files or caches, and logs carry titles, sizes and errors only.
// OpenSealed zeroes the unwrapped content key as soon as the sealed reader
// has derived its own key, which the reader zeroes on Close.
package player
