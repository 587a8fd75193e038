// Package progress prints the progress of adding many files on a terminal
// (files, bytes, rate) for the command-line tools; elsewhere it is silent.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Bar draws one status line, rewritten in place, on a terminal.
type Bar struct {
	w                 io.Writer
	on                bool
	files, doneFiles  int
	total, doneBytes  int64
	start, lastDrawn  time.Time
	mu                sync.Mutex
	name              string
	curBase, curBytes int64
}

// New returns a Bar over w for files files of total bytes; it draws only
// when w is a terminal.
func New(w io.Writer, files int, total int64) *Bar {
	b := &Bar{w: w, files: files, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.on = true
		}
	}
	return b
}

// Reader counts r's bytes towards the file being added, named name.
func (b *Bar) Reader(r io.Reader, name string) io.Reader {
	b.mu.Lock()
	b.name, b.curBase, b.curBytes = name, b.doneBytes, 0
	b.mu.Unlock()
	return &counting{r: r, b: b}
}

// Add records n more bytes of the current file (for callers that count
// themselves).
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	b.curBytes += n
	b.drawLocked(false)
	b.mu.Unlock()
}

// Set records that the current file is n bytes in.
func (b *Bar) Set(n int64) {
	b.mu.Lock()
	b.curBytes = n
	b.drawLocked(false)
	b.mu.Unlock()
}

// Done marks the current file finished (size bytes).
func (b *Bar) Done(size int64) {
	b.mu.Lock()
	b.doneFiles++
	b.doneBytes = b.curBase + size
	b.curBytes = 0
	b.curBase = b.doneBytes
	b.drawLocked(true)
	b.mu.Unlock()
}

// Finish ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.on {
		b.drawLocked(true)
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) drawLocked(force bool) {
	if !b.on {
		return
	}
	now := time.Now()
	if !force && now.Sub(b.lastDrawn) < 100*time.Millisecond {
		return
	}
	b.lastDrawn = now
	bytes := b.curBase + b.curBytes
	rate := float64(bytes) / max(now.Sub(b.start).Seconds(), 0.001) / 1e6
	pct := 100.0
	if b.total > 0 {
		pct = 100 * float64(bytes) / float64(b.total)
	}
	name := b.name
	if len(name) > 40 {
		name = "…" + name[len(name)-39:]
	}
	fmt.Fprintf(b.w, "\r\033[K%d/%d files  %.1f/%.1f MB  %3.0f%%  %.1f MB/s  %s",
		b.doneFiles, b.files, float64(bytes)/1e6, float64(b.total)/1e6, pct, rate, name)
}

type counting struct {
	r io.Reader
	b *Bar
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.b.Add(int64(n))
	}
	return n, err
}
