package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/storetest"
)

// TestStoreSuite runs the store suite shared with pgstore.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "d.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
