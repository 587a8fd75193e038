package settings

import (
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type vals struct {
	data  string
	wait  time.Duration
	nolan bool
	n     int
}

func table(v *vals) Table {
	return Table{
		{Flag: "data", Arg: "DIR", Env: "KITH_TEST_DATA", Default: "/def", Help: "data folder", Var: &v.data},
		{Flag: "lan-wait", Arg: "DUR", Env: "KITH_TEST_WAIT", Default: "3s", Help: "how long to look", Var: &v.wait},
		{Flag: "no-lan", Help: "no mDNS", Var: &v.nolan},
		{Flag: "n", Arg: "N", Default: "4", Help: "how many", Var: &v.n},
	}
}

// Each setting's value: the flag, else its environment variable, else the
// default; a variable that does not parse is an error naming it.
func TestPrecedence(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want vals
		err  string
	}{
		{name: "defaults", want: vals{data: "/def", wait: 3 * time.Second, n: 4}},
		{name: "environment over defaults", env: map[string]string{"KITH_TEST_DATA": "/env", "KITH_TEST_WAIT": "1m"},
			want: vals{data: "/env", wait: time.Minute, n: 4}},
		{name: "flags over environment", env: map[string]string{"KITH_TEST_DATA": "/env"},
			args: []string{"--data", "/flag", "--no-lan", "--lan-wait=250ms", "-n", "9"},
			want: vals{data: "/flag", wait: 250 * time.Millisecond, nolan: true, n: 9}},
		{name: "an empty variable counts as unset", env: map[string]string{"KITH_TEST_DATA": ""}, want: vals{data: "/def", wait: 3 * time.Second, n: 4}},
		{name: "a bad variable is named", env: map[string]string{"KITH_TEST_WAIT": "soon"}, err: "KITH_TEST_WAIT"},
		{name: "a bad flag is refused", args: []string{"-n", "many"}, err: "invalid value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var got vals
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			err := table(&got).Bind(fs)
			if err == nil {
				err = fs.Parse(c.args)
			}
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one containing %q", err, c.err)
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err == "" && got != c.want:
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// The usage text comes from the same rows: flag, placeholder, help,
// default and variable, aligned.
func TestUsage(t *testing.T) {
	var v vals
	got := table(&v).Usage()
	want := "" +
		"  --data DIR      data folder (default /def; env KITH_TEST_DATA)\n" +
		"  --lan-wait DUR  how long to look (default 3s; env KITH_TEST_WAIT)\n" +
		"  --no-lan        no mDNS\n" +
		"  --n N           how many (default 4)\n"
	if got != want {
		t.Errorf("usage:\n%s\nwant:\n%s", got, want)
	}
	long := Table{{Flag: "x", Arg: "V", Help: strings.Repeat("word ", 30), Var: &v.data}}.Usage()
	for _, l := range strings.Split(strings.TrimSuffix(long, "\n"), "\n") {
		if len(l) > 80 || !strings.HasPrefix(l, "  ") {
			t.Errorf("long help not wrapped and indented: %q", l)
		}
	}
}

func TestUnsupportedType(t *testing.T) {
	var f float64
	if err := (Table{{Flag: "f", Var: &f}}).Bind(flag.NewFlagSet("x", flag.ContinueOnError)); err == nil {
		t.Error("a float setting was accepted")
	}
}

// TestListenError: a port already taken names the flag and says what to do.
func TestListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = net.Listen("tcp", ln.Addr().String())
	if err == nil {
		t.Fatal("a second listen on one port succeeded")
	}
	got := ListenError("addr", err).Error()
	if !strings.HasPrefix(got, "--addr: ") || !strings.Contains(got, "choose another --addr") {
		t.Errorf("port taken: %q", got)
	}
	_, err = net.Listen("tcp", "bogus")
	if got := ListenError("metrics-addr", err).Error(); !strings.HasPrefix(got, "--metrics-addr: ") || strings.Contains(got, "choose another") {
		t.Errorf("bad address: %q", got)
	}
}
