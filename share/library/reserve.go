package library

import (
	"fmt"
	"syscall"

	"github.com/kith-media/kith/internal/bytesize"
)

// NoSpaceError is a download refused at its start because the disk holding
// the library cannot take its file: the space is reserved when the download
// opens (reserve), so a full disk is told before a byte is fetched instead
// of by a chunk's write halfway through, after peers and the origin spent
// their uploads on it. Nothing is fetched and nothing is kept of the
// download. (A resumed download whose disk filled since goes on: the
// chunks it holds are still served, and a chunk's write tells the rest.)
type NoSpaceError struct {
	Dir  string // the folder the file would be in
	Need int64  // the download's file size
	Free int64  // bytes free for this user there when it was refused (-1: unknown)
	// Adding: the space was for a file of the household's own being added
	// (CreateSealTemp), not for a download.
	Adding bool
	// File: the name (no folder) of the file being added, set by the
	// caller that knows it (share.Node.AddFile): the app shows this error's
	// words alone, and a person adding a folder must learn which file the
	// disk could not take. "" for a download.
	File string
}

func (e *NoSpaceError) Error() string {
	free := ""
	if e.Free >= 0 {
		free = ", " + bytesize.Text(e.Free) + " free"
	}
	what := "this download"
	if e.Adding {
		what = "adding this file"
		if e.File != "" {
			what = fmt.Sprintf("adding %q", e.File) // quoted: control characters escaped
		}
	}
	return fmt.Sprintf("not enough disk space for %s: it needs %s in %s%s; free some space there or use another data folder (--data)",
		what, bytesize.Text(e.Need), e.Dir, free)
}

// UserText is the error in a person's words (the app shows it as is).
func (e *NoSpaceError) UserText() string { return e.Error() }

// Unwrap makes errors.Is(err, syscall.ENOSPC) hold.
func (e *NoSpaceError) Unwrap() error { return syscall.ENOSPC }
