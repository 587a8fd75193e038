package share

import (
	"context"
	"runtime"
	"sync"
)

// DefaultAddWorkers is how many files AddFiles has in flight at once.
// Most of a file's time is waiting — for the directory to publish the title
// and issue our license (each a commit it fsyncs), and for the library to
// sync the sealed copy — so many files in flight keep the cores busy while
// their commits wait (BenchmarkAddFolder: 4 in flight measured 0.27–0.30×
// cp -r for 1 GiB of MP3s, dominated by those waits; on an idle machine 16
// in flight with 2 sealers gave 0.47×, 64 with 3 gave 0.55–0.58×). Only
// Sealers of them read and seal at once, so memory stays that of a few
// files; a file waiting for the directory holds no buffer.
const DefaultAddWorkers = 64

// DefaultAddSealers is how many files AddFiles reads, tags and seals at
// once when AddFilesOptions.Sealers is 0: one per core the Go scheduler
// uses, since sealing is CPU (the chunk hashes and AES-GCM), and one more,
// because a sealer also waits on its reads and writes and the cores would
// idle through those waits.
func DefaultAddSealers() int { return runtime.GOMAXPROCS(0) + 1 }

// AddFilesOptions describe adding many files.
type AddFilesOptions struct {
	AddOptions // for every file (Title is ignored; Progress is replaced)
	// Workers is how many files are in flight at once; 0 means
	// DefaultAddWorkers.
	Workers int
	// Sealers is how many of them are read, tagged and sealed at once;
	// 0 means DefaultAddSealers. It is at most Workers.
	Sealers int
	// Progress is told how many bytes of path have been sealed so far;
	// it is called from the workers at once and must be quick.
	Progress func(path string, sealed int64)
	// Done is told each file's outcome, one call at a time, in the order
	// files finish. A non-nil return stops adding: the files in flight are
	// cancelled and AddFiles returns that error.
	Done func(path string, a *Added, err error) error
}

// AddFiles adds paths with AddFile, o.Workers at a time. Without o.Done the
// first error stops it.
func (n *Node) AddFiles(ctx context.Context, paths []string, o AddFilesOptions) error {
	workers := o.Workers
	if workers <= 0 {
		workers = DefaultAddWorkers
	}
	workers = min(workers, len(paths))
	sealers := o.Sealers
	if sealers <= 0 {
		sealers = DefaultAddSealers()
	}
	sealing := make(chan struct{}, max(1, min(sealers, workers)))
	done := o.Done
	if done == nil {
		done = func(_ string, _ *Added, err error) error { return err }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan string)
	var (
		mu      sync.Mutex
		stopErr error
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				ao := o.AddOptions
				ao.Title = ""
				ao.Progress = nil
				ao.sealing = sealing
				if o.Progress != nil {
					ao.Progress = func(k int64) { o.Progress(p, k) }
				}
				a, err := n.AddFile(ctx, p, ao)
				mu.Lock()
				if stopErr == nil {
					if err := done(p, a, err); err != nil {
						stopErr = err
						cancel()
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, p := range paths {
		select {
		case next <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if stopErr != nil {
		return stopErr
	}
	return ctx.Err() // the caller's cancel
}
