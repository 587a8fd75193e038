package bytesize

import "testing"

func TestText(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 600 << 10: "600 KiB",
		1 << 20: "1.0 MiB", 17720934: "16.9 MiB", 2 << 30: "2.0 GiB",
	} {
		if got := Text(n); got != want {
			t.Errorf("Text(%d) = %q, want %q", n, got, want)
		}
	}
}
