package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/internal/settings"
)

const usageFormat = `kithctl — a headless Kith device (the app's share + player code, no GUI)

Usage:
  kithctl [flags] <command> [args]

Flags (each may also come from the environment variable named):
%s
Start the device (keeps running; everything else talks to it):
  serve [flags]
        runs the peer server, announces itself and browses neighbours on
        the LAN (mDNS), sends heartbeats to the directory, and answers the
        commands below on DIR/kithctl.sock. Needs --directory on first run
        (remembered in DIR/directory.json) unless the app used DIR before:
        the app and kithctl share the data folder's layout, so either runs
        the device the other made (not both at once). Its flags:
%s
Commands for a running device:
  status                       device ID, account, addresses, what it holds
  signup ACCOUNT [--password-file FILE]
                               create an account at the directory
  signin ACCOUNT [--password-file FILE] [--name NAME]
                               enroll this device under ACCOUNT
  signout                      leave this device's account (at the directory too),
                               so it can sign in as another; the node keeps running
  titles [QUERY]               the directory's catalog, with what this device holds
  suppliers TITLE              the suppliers the directory offers this device for TITLE
  buy TITLE [card flags]       register/buy TITLE at the directory (flow 2); keeps the license
  fetch CONTENT|TITLE [--from DEVICE]...
                               download the ciphertext (no license needed) with progress;
                               with --from only from those devices, else from the
                               directory's suppliers, LAN neighbours and the origin
  register-via NEIGHBOUR TITLE [card flags]
                               register TITLE through a neighbour (flow 1): the neighbour
                               forwards our sealed registration and is credited as supplier
  getkey CONTENT|TITLE [card flags]
                               get this device's license: stored, re-issued because the
                               account owns the title, or by registering (flow 3)
  policy TITLE|default anyone|household|nobody|list [--allow X]... [--deny X]...
                               who may copy TITLE from this device
  neighbours [list]            devices found on the LAN (mDNS) or added by hand
  neighbours add HOST:PORT     add the device at HOST:PORT (its "LAN address" in "kithctl
                               status", or the app's Neighbours screen on it) where the
                               LAN drops multicast and mDNS finds nothing; the address is
                               only a hint: the device must prove its key and be enrolled
                               with this directory, and only that device is dialed there.
                               Kept across restarts
  neighbours remove HOST:PORT|DEVICE
                               forget a neighbour added by hand
  offers NEIGHBOUR             what a neighbour offers to this device
  publish PATH... [--title T] [--price 1.99|free] [--rights R] [--public]
                               add files and folders (recursively) of this device to the
                               household's catalog: tags read (unless --title), each file
                               sealed here with a fresh key — this device is its first
                               supplier, nothing goes to the origin. Free and household-only
                               unless --price / --public; needs a directory that allows
                               device publishing. Prints one JSON line per title (id, name,
                               artist, album); progress on stderr when it is a terminal
  play CONTENT|TITLE [--seconds N]
                               play through the audio output (needs a license held
                               here: see getkey); stops after N seconds (0: to the end)

  NEIGHBOUR and DEVICE are device IDs (or their first group) or names.
  Secrets never go on the command line (other users can read it):
  the password comes from --password-file FILE (- for stdin), $KITH_PASSWORD,
  or a prompt on the terminal; the card from --card-file FILE (lines
  "number: …", "cvc: …", "expiry: MM/YY", "name: …", "address: …"),
  $KITH_CARD_NUMBER and $KITH_CARD_CVC, or --pay (asks on the terminal).
  Card flags: --card-file FILE | --pay, [--expiry MM/YY] [--card-name NAME]
  [--address ADDRESS] (the directory's test processor accepts 4242424242424242).
  --json prints the raw answer (JSON lines for fetch and play).

Examples:
  export KITH_DATA=~/kith-b                  # or --data on every command
  kithctl --directory https://dir.example:8443#ABCDEFG-HIJKLMN-... serve &
  kithctl signup alice                       # asks for the password
  kithctl signin alice --name laptop
  kithctl titles
  kithctl buy "Song" --card-file ~/card.txt
  kithctl play "Song" --seconds 10
`

// usageText is the usage with the flags from their tables.
func usageText() string {
	var g globals
	var c serveConfig
	var v bool
	return fmt.Sprintf(usageFormat, globalSettings(&g).Usage(), indent(serveSettings(&c, &v).Usage(), "      "))
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// globals are the flags before the command.
type globals struct {
	data, directory string
	json            bool
}

// globalSettings are the flags before the command (one table: flag,
// environment variable, default, help).
func globalSettings(g *globals) settings.Table {
	return settings.Table{
		datadir.Setting(&g.data),
		{Flag: "directory", Arg: "URL#FP", Env: "KITH_DIRECTORY", Var: &g.directory, Help: "directory URL with fingerprint (first serve)"},
		{Flag: "json", Var: &g.json, Help: "print raw JSON answers"},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kithctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText()) }
	var g globals
	if err := globalSettings(&g).Bind(fs); err != nil {
		fmt.Fprintln(stderr, "kithctl:", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "kithctl:", err) // again, below the usage the flag package printed
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText())
		fmt.Fprintln(stderr, "kithctl: name a command (serve to start the device; the others talk to it)")
		return 2
	}
	if rest[0] == "help" {
		fmt.Fprint(stdout, usageText())
		return 0
	}
	if g.data == "" {
		fmt.Fprintln(stderr, "kithctl: --data DIR is empty")
		return 2
	}
	var err error
	if rest[0] == "serve" {
		err = cmdServe(ctx, g, rest[1:], stderr)
	} else {
		err = runClient(ctx, g, rest[0], rest[1:], stdout)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "%skithctl %s: %v\n", usageText(), rest[0], err) // the reason last, where it is seen
		return 2
	}
	// one line however the error was made: its words may be a directory's
	// or a proxy's page (oneline)
	fmt.Fprintf(stderr, "kithctl %s: %s\n", rest[0], oneline.Text(err.Error(), oneline.MaxLine))
	return 1
}

// errUsage marks a command line that does not parse.
var errUsage = errors.New("bad command line")
