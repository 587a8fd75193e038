package sealed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz/* (go fuzz v1 files) when
// KITH_WRITE_SEEDS=1; the committed seeds are sealed files, headers and
// manifests of several shapes plus damaged variants.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("KITH_WRITE_SEEDS") != "1" {
		t.Skip("set KITH_WRITE_SEEDS=1 to regenerate the fuzz seed corpus")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{0, 1, 255, 256, 257, 700} {
		f := fuzzSealed(t, n, MinChunkSize)
		write("FuzzOpen", fmt.Sprintf("sealed-%d", n), f)
		hl := fixedHeader + len("audio/ogg")
		write("FuzzParseHeader", fmt.Sprintf("header-%d", n), f[:hl])
		m, err := ReadManifest(bytes.NewReader(f), int64(len(f)))
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := m.MarshalBinary()
		write("FuzzParseManifest", fmt.Sprintf("manifest-%d", n), mb)
		if n == 700 {
			flip := bytes.Clone(f)
			flip[hl+30] ^= 1
			write("FuzzOpen", "bitflip-700", flip)
			write("FuzzOpen", "trailing-700", append(bytes.Clone(f), 0))
			write("FuzzOpen", "truncated-700", f[:len(f)-5])
			m.Signature = bytes.Repeat([]byte{1}, 64)
			mb, _ = m.MarshalBinary()
			write("FuzzParseManifest", "signed-700", mb)
			write("FuzzParseManifest", "trailing-700", append(mb, 0))
		}
	}
	write("FuzzParseHeader", "chunk-size-zero", append([]byte("KITHSEAL\x00\x01\x00\x00\x00\x00"), make([]byte, 80)...))
	write("FuzzParseHeader", "length-overflow", append([]byte("KITHSEAL\x00\x01\x00\x01\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"), make([]byte, 80)...))
}
