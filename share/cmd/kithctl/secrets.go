package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/kith-media/kith/directory/license"
)

// Secrets (passwords, card numbers, security codes) never come from the
// command line, where every user of the machine can read them (ps,
// /proc/PID/cmdline) and shells keep them in their history. They come
// from a file, the environment, or a prompt on the terminal without echo.
const (
	envPassword   = "KITH_PASSWORD"
	envCardNumber = "KITH_CARD_NUMBER"
	envCardCVC    = "KITH_CARD_CVC"
	maxSecretFile = 4 << 10
)

// errSecretInArgv refuses a secret given as an argument.
var errSecretInArgv = errors.New("secrets are not taken from the command line (other users can read it)")

// secretSource reads one secret: from a file ("-": standard input), else
// the environment, else a prompt on the terminal.
type secretSource struct {
	file   string
	env    string
	prompt string
	getenv func(string) string
	ask    func(prompt string) (string, error) // the terminal prompt
}

func (s secretSource) read() (string, error) {
	switch {
	case s.file != "":
		return readSecretFile(s.file)
	case s.getenv(s.env) != "":
		return s.getenv(s.env), nil
	}
	v, err := s.ask(s.prompt)
	if err != nil {
		return "", fmt.Errorf("%w (or set %s, or give a file)", err, s.env)
	}
	return v, nil
}

// readSecretFile reads the first line of a small file ("-": stdin).
func readSecretFile(path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("reading the secret file: %w (name a readable file, or - for standard input)", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("reading secret from %s: %w", path, err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("reading secret from %s: more than %d bytes", path, maxSecretFile)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("reading secret from %s: the first line is empty", path)
	}
	return line, nil
}

// passwordFlag adds --password-file to fs; the returned function reads the
// password from that file, $KITH_PASSWORD or a terminal prompt.
func passwordFlag(fs *flag.FlagSet, account func() string) func() (string, error) {
	file := fs.String("password-file", "", "read the password from the first line of this file (- for stdin)")
	return func() (string, error) {
		return secretSource{file: *file, env: envPassword, prompt: "Password for " + account() + ": ",
			getenv: os.Getenv, ask: promptSecret}.read()
	}
}

// cardFlags adds the payment flags to fs. A payment is made with
// --card-file FILE (lines "number: …", "cvc: …", and optionally expiry,
// name, address), with $KITH_CARD_NUMBER and $KITH_CARD_CVC, or with
// --pay, which prompts for the number and code on the terminal.
// --card and --cvc are refused: secrets never come from the command line.
func cardFlags(fs *flag.FlagSet) func() (*license.Payment, error) {
	card := fs.String("card", "", "refused: use --card-file, $"+envCardNumber+" or --pay")
	cvc := fs.String("cvc", "", "refused: use --card-file, $"+envCardCVC+" or --pay")
	file := fs.String("card-file", "", "card details, one \"key: value\" a line: number, cvc, expiry, name, address")
	pay := fs.Bool("pay", false, "pay by card, asking for the number and security code on the terminal")
	expiry := fs.String("expiry", "", "card expiry MM/YY")
	name := fs.String("card-name", "", "name on the card")
	addr := fs.String("address", "", "billing address")
	return func() (*license.Payment, error) {
		if *card != "" || *cvc != "" {
			return nil, fmt.Errorf("%w: %w: give the card with --card-file FILE, $%s and $%s, or --pay to be asked",
				errUsage, errSecretInArgv, envCardNumber, envCardCVC)
		}
		p := &license.Payment{Expiry: *expiry, Name: *name, Address: *addr}
		switch {
		case *file != "":
			if err := readCardFile(*file, p); err != nil {
				return nil, err
			}
		case os.Getenv(envCardNumber) != "":
			p.Card, p.CVC = os.Getenv(envCardNumber), os.Getenv(envCardCVC)
		case *pay:
			var err error
			if p.Card, err = promptSecret("Card number: "); err != nil {
				return nil, err
			}
			if p.CVC, err = promptSecret("Security code: "); err != nil {
				return nil, err
			}
		default:
			return nil, nil
		}
		if p.Card == "" || p.CVC == "" {
			return nil, errors.New("the card needs a number and a security code")
		}
		return p, nil
	}
}

// readCardFile fills p from a file of "key: value" (or key=value) lines.
func readCardFile(path string, p *license.Payment) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading --card-file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxSecretFile))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if kk, vv, ok2 := strings.Cut(line, "="); ok2 && (!ok || len(kk) < len(k)) {
			k, v, ok = kk, vv, true
		}
		if !ok {
			return fmt.Errorf("reading card from %s: line %d is not \"key: value\"", path, n)
		}
		v = strings.TrimSpace(v)
		if strings.ContainsFunc(v, unicode.IsControl) {
			return fmt.Errorf("reading card from %s: line %d has control characters", path, n)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "number", "card":
			p.Card = v
		case "cvc", "cvv":
			p.CVC = v
		case "expiry":
			p.Expiry = v
		case "name":
			p.Name = v
		case "address":
			p.Address = v
		default:
			return fmt.Errorf("reading card from %s: line %d: unknown key %q (number, cvc, expiry, name, address)", path, n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading card from %s: %w", path, err)
	}
	return nil
}
