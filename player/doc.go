// Package player plays titles from the library: it opens a title through a
// Source (decrypting in memory), decodes it with package decode, and feeds
// PCM to an Output, keeping a queue, a clock and the controls. It never
// imports Fyne: the app subscribes to events and calls the controls.
//
// # Pipeline
//
//	Source.Open ─► Media (io.ReadSeeker, plaintext in memory only)
//	   └► decode.Open ─► feeder goroutine ─► blocks (≤ 1.1 s queue per track)
//	                                             └► pump (io.Reader) ─► Output (ALSA)
//
// Each track has a feeder goroutine that reads and decodes ahead into a
// bounded channel of PCM blocks (1024 frames each, at most 48 ≈ 1.1 s). A
// title is handed to the output once 16 blocks (≈ 370 ms) are decoded, or
// 150 ms after its first block. The pump, pulled by the output device,
// takes blocks from the current track and, at its end, from the next track,
// which was opened and decoded ahead (gapless). When no block is ready the
// pump hands out silence (Read) or nothing (ReadReady, which the device
// output uses while it holds 40 ms or more), so the device never stalls
// and no silence is queued ahead of frames about to be decoded.
//
// # Clock
//
// The pump counts frames handed to the output and marks where each track
// (and each seek) starts in that count; the position is frames handed −
// frames not yet heard (Output.Buffered), mapped back to the track that was
// playing at that frame. For the device output "not yet heard" is the
// device's own delay (snd_pcm_delay: ALSA, the sound server's buffer and
// the sink's latency), but never less than what ALSA itself still holds,
// so the position is what is heard, and track changes and the end of the
// queue are reported when they are heard. The frames heard never go back
// and move at the device's rate, drawn toward that figure (a fresh
// PulseAudio stream reports a delay of 0 for a second or more while its
// sink has not yet taken the first frames; a video presented on it was
// frozen, then jumped and lost frames). A title that
// follows one that ended does not flush the output: the end of the last one
// is played whole (a 0.15 s sound, a sound followed by another).
//
// # Output
//
// DeviceOutput drives ALSA (libasound over cgo) directly, with one PCM per
// output: a writer goroutine tops the device (a 200 ms buffer, 16 periods)
// up from the pump. Starting, seeking and changing title drop what the
// device holds, and 10 ms of silence lead the new frames (a starting
// PulseAudio stream damages its first milliseconds); pausing pauses the
// device. It replaced oto (issue 17): oto's mixer pulled a 200 ms player
// buffer behind a device buffer full of silence, so a title started late,
// and its clock could not see the sound server's latency, so the position
// ran ahead of what was heard and the end of a short title was cut by the
// stop that followed. Tests use a fake Output; the real one is checked
// against a PulseAudio null sink (internal/pulsetest), recorded across
// whole tests and compared with ffmpeg's decode of the same files
// (faults_test.go).
//
// # Queue
//
// The queue is a list of entries, each a title ID and a key of its own
// (Queue reports them), so the same title may be queued twice and an edit
// names the entry it means even if the queue moved since the app drew it.
// PlayNext, Enqueue, Remove, Move and Jump edit it while a title plays: the
// current title is never reopened (its index follows its entry), and the
// title prepared for a gapless change is redone only if the one after the
// current title changed — unless the pump has already moved into it, which
// then plays. Removing the current title plays the one that took its
// place. SetShuffle shuffles the titles after the current one at once (and
// Play shuffles all but the first); turning it off restores the order the
// titles were given in, with the additions and removals made since. The
// queue holds at most MaxQueue entries. EventQueue tells subscribers the
// queue changed.
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
// # Video
//
// A title with a picture (MP4 or WebM, sniffed) plays its sound like any
// other title; its picture is decoded by package av from a second reader
// of the title and presented on the audio clock (the heard position), late
// frames dropped and counted (Status.Video). The title is opened once when
// its Media can be shared (sealed.Reader's ReadAtContext): the picture
// reads through a view with its own position, whose reads end when the
// picture stops without closing the sound's title; other Media are opened
// again. The picture opens beside the sound (the sniffed container is
// enough to start it) and the sound starts once the first frame is decoded.
// The picture is decoded two frames ahead on a thread of its own at a lower
// priority (nice +decodeNice, ahead.go) while the presenter waits for the
// clock and shows the frame before at the program's priority: decoding just
// after showing a frame competed with the window painting it. Each frame goes to the
// VideoSink set with SetVideoSink (the app's video view), converted by
// swscale to the largest size with the picture's aspect inside the sink's
// VideoBox, asked again before every frame so a resized view gets frames
// of its new size; without a sink, at Options.VideoWidth×VideoHeight.
// EventVideo is emitted for each frame shown (for tools that only count
// them); it carries a copy of the picture only when no sink is set.
//
// # Play while downloading
//
// Media may block on reads (a sealed reader waiting for chunks). A read in
// progress for more than BufferingAfter switches to StateBuffering. Where the
// download fetches first is the media's business: a share.Title reader
// steers its download to the chunk it is reading.
//
// # Time
//
// The player's rules are timed on Options.Clock (internal/clock; the wall
// clock by default): the control loop's 50 ms tick (and with it position
// events and the end of a queue), BufferingAfter, the 150 ms a title waits
// for its first blocks, the 5 s between saved positions. Tests run them on
// a clock.Fake and check each at its threshold (clock_test.go). The sound is
// paced by the Output (the device, or the tests' fake output pulling in real
// time), and the grace before a stopped track's media is closed stays on the
// wall clock: neither is a rule.
//
// # Secrets
//
// No plaintext media, PCM or key reaches the disk or the logs: there are no
// temp files or caches, and logs carry titles, sizes and errors only.
// A title is opened through share.Title.Open (share/playback's Source),
// which zeroes the unwrapped content key as soon as the sealed reader has
// derived its own key, which the reader zeroes on Close.
package player
