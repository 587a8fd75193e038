package syncbuf

import (
	"testing"

	"github.com/kith-media/kith/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
