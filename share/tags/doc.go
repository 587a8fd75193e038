// Package tags reads what a person expects to see of their own media files:
// title, artist, album, album artist, track and disc number, year, genre,
// duration and cover art, from MP3 (ID3v1, ID3v2.2–2.4), FLAC (Vorbis
// comments, PICTURE), Ogg Vorbis and Opus, MP4/M4A and WAV (RIFF INFO).
// Files without tags are named from the file name ("03 - Artist - Title.mp3").
//
// Tag parsing is github.com/dhowden/tag (BSD-3, no cgo, no dependencies);
// this package bounds it and adds what it lacks: WAV, durations and a
// cover beside the file.
//
// # Tags are hostile
//
// Everything read from a file is bounded:
//   - the tag reader sees the file through a budgeted io.ReadSeeker: seeks are
//     free, but at most Options.MaxTagBytes are read in all and the read fails
//     after Options.Timeout, so a lying frame or atom size cannot make it read
//     (or allocate much more than) the budget;
//   - a panic in the parser is recovered and reported as a problem;
//   - strings are made valid UTF-8, stripped of control characters and cut to
//     MaxText runes; numbers are clamped (track/disc ≤ 9999, year 1–9999);
//   - artwork is at most Options.MaxArtBytes, its declared dimensions at most
//     MaxArtPixels before it is decoded, and it is re-encoded as a JPEG
//     thumbnail of at most Options.ThumbSize pixels a side — the original
//     bytes are never passed on;
//   - durations come from stream headers (MP3 Xing/Info or VBRI frame count,
//     else a frame scan of at most MaxScanFrames frames, extrapolated; FLAC
//     STREAMINFO; the last Ogg page's granule position; MP4 mvhd; WAV data
//     size over byte rate) and are at most MaxDuration. A caller that reads
//     the whole file anyway (adding it: share.Node.AddFile seals it) sets
//     Options.DeferScan and writes the bytes to Info.Scan, a FrameScan that
//     counts the same frames without a second read of the file;
//   - a video's width and height come from the first video track's tkhd
//     (MP4; at most 16 tracks looked at) or TrackEntry/Video (Matroska and
//     WebM: the display size, or the pixel size scaled to the display
//     aspect ratio) and are 1..MaxDimension, else 0. Matroska's duration is
//     Info's Duration times TimecodeScale; only elements before the first
//     Cluster are read, at most 1024 on each level. Matroska tags are not
//     read.
//
// A file whose tags cannot be read is still described: Read returns its
// format and a name from the file name, and lists what went wrong in
// Info.Problems. Only a file that is not recognised media (ErrNotMedia) or
// cannot be opened is an error.
//
// # Finding the files
//
// MediaFiles turns the paths a person gave (kith-directory publish, kithctl
// publish, the app's Add folder and watched folders) into files: a file
// named is kept whatever its extension; a folder is walked recursively for
// regular files with one of MediaExtensions, skipping hidden folders and
// symbolic links, at most MaxWalkFiles files in all.
package tags
