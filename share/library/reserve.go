package library

import (
	"fmt"
	"syscall"

	"github.com/kith-media/kith/internal/bytesize"
)

// NoSpaceError is a download refused at its start because the disk holding
// the library cannot take its file (it is full, or the file is larger
// than its file system can hold at all: TooLarge): the space is reserved
// when the download opens (reserve), so a full disk is told before a byte
// is fetched instead of by a chunk's write halfway through, after peers
// and the origin spent their uploads on it. Nothing is fetched and nothing is kept of the
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
	// TooLarge: the file system cannot hold a file this big, however much
	// is free (EFBIG: a FAT32 data folder and a title over 4 GiB); Max is
	// its largest file where known (0: unknown). Freeing space would not
	// help, so the words say to use another data folder.
	TooLarge bool
	Max      int64
}

func (e *NoSpaceError) Error() string {
	if e.TooLarge {
		return e.tooLargeText()
	}
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

// tooLargeText is Error for a file the file system cannot hold.
func (e *NoSpaceError) tooLargeText() string {
	what := "this title is " + bytesize.Text(e.Need)
	if e.Adding {
		what = "adding this file needs a file of " + bytesize.Text(e.Need)
		if e.File != "" {
			what = fmt.Sprintf("adding %q needs a file of %s", e.File, bytesize.Text(e.Need)) // quoted: control characters escaped
		}
	}
	limit := "larger than the file system of " + e.Dir + " can hold"
	if e.Max > 0 {
		limit = "larger than the " + bytesize.Text(e.Max) + " the file system of " + e.Dir + " can hold"
	}
	return what + ", " + limit + "; use another data folder (--data)"
}

// UserText is the error in a person's words (the app shows it as is).
func (e *NoSpaceError) UserText() string { return e.Error() }

// Unwrap makes errors.Is(err, syscall.ENOSPC) hold, or EFBIG for a file
// too large for the file system.
func (e *NoSpaceError) Unwrap() error {
	if e.TooLarge {
		return syscall.EFBIG
	}
	return syscall.ENOSPC
}
