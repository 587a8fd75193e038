//go:build !unix

package relay

import (
	"testing"
	"time"
)

// selfCPU is not measured here (cpu-s/GB then counts only the relay).
func selfCPU(b *testing.B) time.Duration { return 0 }
