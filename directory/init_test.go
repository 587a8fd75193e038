package directory

import (
	"os"
	"os/exec"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// TestImportCostsNoPasswordHash: a program that imports the package (the
// app, kithctl, a device) allocates no argon2 working memory (19 MiB)
// before it does anything: the dummy hash waits for a directory server.
// Run in a fresh process, since tests before it allocate.
func TestImportCostsNoPasswordHash(t *testing.T) {
	if os.Getenv("KITH_INIT_ALLOCS") != "" {
		s := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		rtmetrics.Read(s)
		os.Stdout.WriteString("allocs=" + strconv.FormatUint(s[0].Value.Uint64(), 10) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestImportCostsNoPasswordHash$")
	cmd.Env = append(os.Environ(), "KITH_INIT_ALLOCS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "allocs=")
	if !ok {
		t.Fatalf("no allocs in %q", out)
	}
	n, err := strconv.ParseUint(strings.Fields(after)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if n >= argonMemory<<10 {
		t.Errorf("the process allocated %d bytes before its first test, want less than argon2's %d", n, argonMemory<<10)
	}
	t.Logf("allocated before the first test: %d bytes", n)
}
