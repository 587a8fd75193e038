//go:build !linux

package library

import "os"

// reserve makes f size bytes long: a sparse file here (no fallocate), so a
// full disk is told by the chunk write that meets it.
func reserve(f *os.File, size int64) error { return f.Truncate(size) }
