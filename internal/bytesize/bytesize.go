// Package bytesize words a byte count the way Kith shows sizes to people
// ("16.9 MiB"): the install page and the library's disk-space errors share it.
package bytesize

import "fmt"

// Text is n in binary units with one decimal from MiB up ("16.9 MiB",
// "2.0 GiB"), whole KiB below, bytes under 1 KiB.
func Text(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
