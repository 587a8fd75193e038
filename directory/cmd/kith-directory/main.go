package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/oneline"
)

const usage = `kith-directory — the headless directory of a Kith network

Usage:
  kith-directory <command> [flags]

Commands:
  serve      run the directory over HTTPS (prints its URL with the fingerprint)
  migrate    create or upgrade the database schema (SQLite or --store postgres://...)
  publish    seal a media file into the origin store and add it to the catalog
  withdraw   withdraw a title from the catalog (owners keep their licenses)
  billing    billing outbox: "billing export --csv" writes every registration as CSV
  accounts   list accounts with their device and purchase counts
  pair-code  show a one-time join code for a device joining this directory
  fingerprint  print the directory's fingerprint (for URL#FINGERPRINT)
  help       this text; "kith-directory help <command>" for a command's flags

Every command takes --data DIR (env KITH_DIRECTORY_DATA; default
$XDG_DATA_HOME/kith-directory): it holds directory.key (the directory's
identity, mode 0600, created on first use), directory.db (SQLite, WAL) and
origin/ (sealed files named by content ID). publish, withdraw, billing and
accounts open the same database directly, so they work while serve runs.
--store postgres://USER@HOST/DB (env KITH_DIRECTORY_STORE) puts the database
on PostgreSQL instead, shared by several serve instances; see
"kith-directory help serve" and "kith-directory help migrate".

Examples:
  # start a directory on port 8443 and forward billing to the label's webhook
  kith-directory serve --data /var/lib/kith --addr :8443 --name "Label Records" \
      --webhook https://billing.example/kith --webhook-secret-file /etc/kith/webhook-secret
  # -> https://host:8443#ABCDEFG-HIJKLMN-...   (give this URL to players)

  # publish a song at 1.99 EUR, re-sharing allowed
  kith-directory publish song.mp3 --data /var/lib/kith --title "Song" \
      --artist "Band" --price 1.99 --rights reshare

  # publish a free podcast whose licenses expire after 30 days
  kith-directory publish ep1.ogg --title "Episode 1" --price 0 --rights days=30

  kith-directory withdraw 3f2a9c0d11e4b7a8 --data /var/lib/kith
  kith-directory billing export --csv --data /var/lib/kith > billing.csv
  kith-directory accounts --data /var/lib/kith

For performance work, serve writes a CPU profile of its run to the file named by
KITH_DIRECTORY_CPUPROFILE, and its allocations at the end to KITH_DIRECTORY_MEMPROFILE
(read them with go tool pprof).

Environment (flags win): KITH_DIRECTORY_DATA, KITH_DIRECTORY_STORE, KITH_DIRECTORY_ADDR,
KITH_DIRECTORY_NAME, KITH_DIRECTORY_URL, KITH_DIRECTORY_WEBHOOK,
KITH_DIRECTORY_WEBHOOK_SECRET or KITH_DIRECTORY_WEBHOOK_SECRET_FILE,
KITH_DIRECTORY_METRICS_ADDR, KITH_DIRECTORY_METRICS_TOKEN or
KITH_DIRECTORY_METRICS_TOKEN_FILE, KITH_DIRECTORY_RATE_IP,
KITH_DIRECTORY_RATE_DEVICE, KITH_DIRECTORY_RATE_AUTH,
KITH_DIRECTORY_RATE_ACCOUNT_GUESSES, KITH_DIRECTORY_RATE_GUESSES,
KITH_DIRECTORY_MAX_PASSWORD_CHECKS, KITH_DIRECTORY_MAX_BODY_IN_FLIGHT,
KITH_DIRECTORY_MAX_BODY_PER_CLIENT, KITH_DIRECTORY_MAX_CONNS,
KITH_DIRECTORY_MAX_HOLDINGS, KITH_DIRECTORY_RELAY, KITH_DIRECTORY_RELAY_PUBLIC,
KITH_DIRECTORY_RELAY_AT, KITH_DIRECTORY_DEVICE_PUBLISH, KITH_DIRECTORY_OWNER,
KITH_DIRECTORY_LOG_LEVEL. Secrets are never taken from the command line.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a wrong invocation: the command's usage text has been
// printed, and run prints the reason (if any) after it and exits 2.
type usageError struct{ reason string }

func (e *usageError) Error() string { return e.reason }

// usagef prints fs's usage text and returns the reason it was shown.
func usagef(fs *flag.FlagSet, format string, a ...any) error {
	fs.Usage()
	return &usageError{reason: fmt.Sprintf(format, a...)}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":       cmdServe,
		"migrate":     cmdMigrate,
		"publish":     cmdPublish,
		"withdraw":    cmdWithdraw,
		"billing":     cmdBilling,
		"accounts":    cmdAccounts,
		"pair-code":   cmdPairCode,
		"fingerprint": cmdFingerprint,
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && cmds[rest[0]] != nil {
			_ = cmds[rest[0]](ctx, []string{"--help"}, stdout, stdout)
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd := cmds[name]
	if cmd == nil {
		fmt.Fprintf(stderr, "kith-directory: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if err := cmd(ctx, rest, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if ue := (*usageError)(nil); errors.As(err, &ue) {
			if ue.reason != "" {
				fmt.Fprintf(stderr, "kith-directory %s: %s\n", name, ue.reason)
			}
			return 2
		}
		// one line however the error was made: a file's tags or a
		// database's message are in some of them (oneline)
		fmt.Fprintf(stderr, "kith-directory %s: %s\n", name, oneline.Text(err.Error(), oneline.MaxLine))
		return 1
	}
	return 0
}

// env returns the environment variable KITH_DIRECTORY_<key> or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv("KITH_DIRECTORY_" + key); ok {
		return v
	}
	return def
}

// defaultDataDir is the directory's data folder when --data is not given.
func defaultDataDir() string { return datadir.DefaultFor("kith-directory") }

// newFlags makes a command's flag set with --data and a usage text.
func newFlags(name, synopsis, help string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env("DATA", defaultDataDir()), "data directory (env KITH_DIRECTORY_DATA)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: kith-directory %s\n\n%s\nFlags:\n", synopsis, strings.TrimLeft(help, "\n"))
		fs.PrintDefaults()
	}
	return fs, data
}

// parseFlags parses args, allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{reason: err.Error()} // the flag package printed the usage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}
