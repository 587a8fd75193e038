// Package settings defines a program's settings once — flag name,
// environment variable, default and help text in one table — and builds
// the flag set and the usage text from it, so the three cannot disagree.
// ListenError words a failed listen on a flag's address for the terminal.
package settings

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Setting is one row of the table. Var points at where the value goes: a
// *string, *bool, *int or *time.Duration. The value is Default, unless Env
// names a set environment variable (then its value), unless the flag is
// given.
type Setting struct {
	Flag    string // flag name without dashes: "data"
	Arg     string // placeholder in the usage text ("DIR"); "" for a bool
	Env     string // environment variable, "" if none
	Default string // in the flag's syntax; "" for none
	Help    string // one line; the usage text adds the default and the variable
	Var     any
}

// Table is a program's settings, in the order the usage text lists them.
type Table []Setting

// Bind registers every setting in fs, each set first to its environment
// variable's value when that is set and to its default otherwise. A
// variable that does not parse is an error naming it.
func (t Table) Bind(fs *flag.FlagSet) error {
	for _, s := range t {
		v, err := newValue(s.Var)
		if err != nil {
			return fmt.Errorf("setting --%s: %w", s.Flag, err)
		}
		if err := v.Set(s.Default); err != nil && s.Default != "" {
			return fmt.Errorf("setting --%s: default %q: %w", s.Flag, s.Default, err)
		}
		if s.Env != "" {
			if e, ok := os.LookupEnv(s.Env); ok && e != "" {
				if err := v.Set(e); err != nil {
					return fmt.Errorf("%s=%q: %w", s.Env, e, err)
				}
			}
		}
		fs.Var(v, s.Flag, s.Help)
	}
	return nil
}

// Usage is the table as help text: one entry a setting, its flag and
// placeholder, then the help, the default and the environment variable.
func (t Table) Usage() string {
	width := 0
	heads := make([]string, len(t))
	for i, s := range t {
		heads[i] = "--" + s.Flag
		if s.Arg != "" {
			heads[i] += " " + s.Arg
		}
		width = max(width, len(heads[i]))
	}
	var b strings.Builder
	for i, s := range t {
		var extra []string
		if s.Default != "" && s.Default != "false" {
			extra = append(extra, "default "+s.Default)
		}
		if s.Env != "" {
			extra = append(extra, "env "+s.Env)
		}
		line := s.Help
		if len(extra) > 0 {
			line += " (" + strings.Join(extra, "; ") + ")"
		}
		pad := strings.Repeat(" ", width+4)
		for j, l := range wrap(line, max(30, 78-len(pad))) {
			if j == 0 {
				fmt.Fprintf(&b, "  %-*s  %s\n", width, heads[i], l)
			} else {
				fmt.Fprintf(&b, "%s%s\n", pad, l)
			}
		}
	}
	return b.String()
}

// wrap breaks s into lines of at most n bytes at spaces (a longer word
// stands alone).
func wrap(s string, n int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > n:
			out = append(out, line)
			line = w
		default:
			line += " " + w
		}
	}
	return append(out, line)
}

// value is a flag.Value over one of the supported pointer types.
type value struct {
	set func(string) error
	get func() string
	b   bool
}

func (v *value) Set(s string) error { return v.set(s) }
func (v *value) String() string {
	if v == nil || v.get == nil {
		return ""
	}
	return v.get()
}
func (v *value) IsBoolFlag() bool { return v.b }

func newValue(p any) (*value, error) {
	switch p := p.(type) {
	case *string:
		return &value{set: func(s string) error { *p = s; return nil }, get: func() string { return *p }}, nil
	case *bool:
		return &value{b: true, set: func(s string) error {
			if s == "" {
				*p = false
				return nil
			}
			v, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("not true or false")
			}
			*p = v
			return nil
		}, get: func() string { return strconv.FormatBool(*p) }}, nil
	case *int:
		return &value{set: func(s string) error {
			if s == "" {
				*p = 0
				return nil
			}
			v, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("not a whole number")
			}
			*p = v
			return nil
		}, get: func() string { return strconv.Itoa(*p) }}, nil
	case *time.Duration:
		return &value{set: func(s string) error {
			if s == "" {
				*p = 0
				return nil
			}
			v, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("not a duration like 3s or 1m30s")
			}
			*p = v
			return nil
		}, get: func() string { return p.String() }}, nil
	}
	return nil, fmt.Errorf("unsupported type %T", p)
}

// ListenError explains a failed listen on the address flag gave: it names
// the flag and, when the port is taken, says what to do about it.
func ListenError(flag string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--%s: %w (another program has that port, perhaps this one already running: stop it or choose another --%s)", flag, err, flag)
	}
	return fmt.Errorf("--%s: %w", flag, err)
}
