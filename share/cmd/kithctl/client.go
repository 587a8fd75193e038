package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/internal/progress"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/peer"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// ctl talks to a running "kithctl serve" over its unix socket.
type ctl struct {
	hc   *http.Client
	json bool
	out  io.Writer
}

func newCtl(g globals, out io.Writer) *ctl {
	sock := datadir.Dir(g.data).ControlSocket()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			if held, _ := datadir.Dir(g.data).InUse(); held {
				// Held with no control socket: the app runs this device
				// (or a serve is still starting).
				return nil, fmt.Errorf("the device in %s is run by the Kith app (or a kithctl serve still starting); kithctl drives only a device its own serve runs: quit the app, then: kithctl --data %s serve", g.data, g.data)
			}
			return nil, fmt.Errorf("no device running on %s (start it with: kithctl --data %s serve): %w", g.data, g.data, err)
		}
		return c, nil
	}}
	return &ctl{hc: &http.Client{Transport: tr}, json: g.json, out: out}
}

// call sends one request and decodes the JSON answer into v.
func (c *ctl) call(ctx context.Context, method, path string, body any, v any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return answerError(resp.StatusCode, b)
	}
	if c.json {
		_, err := c.out.Write(b)
		return err
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

func (c *ctl) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://kithctl"+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	return resp, nil
}

func answerError(status int, b []byte) error {
	var e struct{ Error string }
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return fmt.Errorf("device answered %d: %s", status, strings.TrimSpace(string(b)))
}

// stream sends a request answered by JSON lines and hands each to f; it
// returns the error line's message as an error.
func (c *ctl) stream(ctx context.Context, path string, body any, f func(Line)) error {
	resp, err := c.send(ctx, "POST", path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return answerError(resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if c.json {
			fmt.Fprintln(c.out, sc.Text())
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("bad answer line: %w", err)
		}
		if l.Error != "" {
			return errors.New(l.Error)
		}
		if l.Done {
			return nil
		}
		if !c.json {
			f(l)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the device closed the answer early")
}

// found says how a neighbour was found: "LAN" (mDNS), "by hand" or both.
func found(n share.Neighbour) string {
	switch {
	case n.LAN && n.Hand:
		return "LAN, by hand"
	case n.Hand:
		return "by hand"
	}
	return "LAN"
}

// parse parses a subcommand's flags, interleaved with its n positional
// arguments (min..max).
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || len(pos) > max {
		return nil, fmt.Errorf("%w: %s takes %d..%d arguments, got %d", errUsage, fs.Name(), min, max, len(pos))
	}
	return pos, nil
}

func runClient(ctx context.Context, g globals, cmd string, args []string, out io.Writer) error {
	c := newCtl(g, out)
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	switch cmd {
	case "status":
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		var st Status
		if err := c.call(ctx, "GET", "/status", nil, &st); err != nil || c.json {
			return err
		}
		fmt.Fprintf(tw, "device\t%s\nname\t%s\naccount\t%s\npeer address\t%s\nLAN address\t%s (what another device's \"neighbours add\" takes)\ndirectory\t%s\n",
			st.Device, st.Name, st.Account, st.Addr, st.LANAddr, st.Directory)
		fmt.Fprintln(tw, "\nTITLE\tCHUNKS\tCOMPLETE\tLICENSED\tPOLICY\tCONTENT")
		for _, h := range st.Holdings {
			fmt.Fprintf(tw, "%s\t%d/%d\t%v\t%v\t%s\t%s\n", cell(h.Name), h.Have, h.Total, h.Complete, h.Licensed, h.Policy, h.Content.String()[:16])
		}
		return nil
	case "signup", "signin":
		var name string
		if cmd == "signin" { // signup makes an account, no device name
			fs.StringVar(&name, "name", "", "this device's name")
		}
		var account string
		password := passwordFlag(fs, func() string { return account })
		pos, err := parse(fs, args, 1, 2)
		if err != nil {
			return err
		}
		if len(pos) == 2 {
			return fmt.Errorf("%w: %w: the password comes from --password-file FILE, $%s, or the prompt",
				errUsage, errSecretInArgv, envPassword)
		}
		account = pos[0]
		pw, err := password()
		if err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/"+cmd, Request{Account: pos[0], Password: pw, Name: name}, nil); err != nil || c.json {
			return err
		}
		if cmd == "signup" {
			fmt.Fprintf(out, "account %s created\n", pos[0])
		} else {
			fmt.Fprintf(out, "this device is enrolled under %s\n", pos[0])
		}
		return nil
	case "signout":
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/signout", Request{}, nil); err != nil || c.json {
			return err
		}
		fmt.Fprintln(out, "this device left its account; sign in to use another")
		return nil
	case "titles":
		pos, err := parse(fs, args, 0, 1)
		if err != nil {
			return err
		}
		q := ""
		if len(pos) == 1 {
			q = pos[0]
		}
		var rows []TitleRow
		if err := c.call(ctx, "GET", "/titles?q="+url.QueryEscape(q), nil, &rows); err != nil || c.json {
			return err
		}
		fmt.Fprintln(tw, "ID\tNAME\tARTIST\tPRICE\tSIZE\tHELD\tLICENSED")
		for _, t := range rows {
			price := "free"
			if t.Price > 0 {
				price = fmt.Sprintf("%d.%02d %s", t.Price/100, t.Price%100, t.Currency)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d/%d\t%v\n", cell(t.ID), cell(t.Name), cell(t.Artist), cell(price), t.Size, t.Have, t.Chunks, t.Licensed)
		}
		return nil
	case "suppliers":
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		var sups []directory.Supplier
		if err := c.call(ctx, "GET", "/suppliers?title="+url.QueryEscape(pos[0]), nil, &sups); err != nil || c.json {
			return err
		}
		fmt.Fprintln(tw, "DEVICE\tACCOUNT\tORIGIN\tADDRESSES")
		for _, s := range sups {
			acct := s.Account // the directory names our own account only
			if acct == "" {
				acct = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", cell(string(s.Device)), cell(acct), s.Origin, cell(strings.Join(s.Addrs, " ")))
		}
		return nil
	case "buy", "getkey":
		card := cardFlags(fs)
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		pay, err := card()
		if err != nil {
			return err
		}
		if cmd == "getkey" {
			var k KeyInfo
			if err := c.call(ctx, "POST", "/getkey", Request{Target: pos[0], Payment: pay}, &k); err != nil || c.json {
				return err
			}
			fmt.Fprintf(out, "license %s for title %s on device %s (account %s), issued %s\n", cell(k.License), cell(k.Title), k.Device.Short(), cell(k.Account), k.Issued.Format(time.RFC3339))
			return nil
		}
		var rc directory.Receipt
		if err := c.call(ctx, "POST", "/buy", Request{Target: pos[0], Payment: pay}, &rc); err != nil || c.json {
			return err
		}
		printReceipt(out, rc)
		return nil
	case "register-via":
		card := cardFlags(fs)
		pos, err := parse(fs, args, 2, 2)
		if err != nil {
			return err
		}
		pay, err := card()
		if err != nil {
			return err
		}
		var rc directory.Receipt
		if err := c.call(ctx, "POST", "/register-via", Request{Neighbour: pos[0], Target: pos[1], Payment: pay}, &rc); err != nil || c.json {
			return err
		}
		printReceipt(out, rc)
		return nil
	case "fetch":
		var from multi
		fs.Var(&from, "from", "download only from this device (repeatable)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		var last Line
		err = c.stream(ctx, "/fetch", Request{Target: pos[0], From: from}, func(l Line) {
			if l.Fault != "" {
				fmt.Fprintf(out, "  ! %s\n", cell(l.Fault))
				return
			}
			if l.Total > 0 && (l.Have != last.Have || l.Total != last.Total) {
				fmt.Fprintf(out, "  %s: %d/%d chunks, %.1f MB/s\n", cell(l.Title), l.Have, l.Total, l.Rate/1e6)
			}
			last = l
		})
		if err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "fetched %s: %d/%d chunks\n", cell(last.Title), last.Have, last.Total)
		for _, s := range last.Sources {
			kind := "peer"
			if s.Origin {
				kind = "origin"
			}
			fmt.Fprintf(out, "  from %s %s: %d bytes (%s)\n", kind, s.ID.Short(), s.Bytes, cell(s.State))
		}
		return nil
	case "publish":
		title := fs.String("title", "", "title name (default: from the tags; one file only)")
		price := fs.String("price", "free", `price in currency units ("1.99") or "free"`)
		rights := fs.String("rights", "", "reshare | noreshare | days=N | expires=RFC3339, comma-separated")
		public := fs.Bool("public", false, "list to everyone (default: this household only)")
		pos, err := parse(fs, args, 1, 1<<20)
		if err != nil {
			return err
		}
		cents, err := parseCents(*price)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		for i, p := range pos {
			if pos[i], err = filepath.Abs(p); err != nil {
				return err
			}
		}
		var bar *progress.Bar
		enc := json.NewEncoder(out)
		err = c.stream(ctx, "/publish", Request{Paths: pos, Title: *title, Price: cents, Rights: *rights, Public: *public}, func(l Line) {
			switch {
			case l.Files > 0:
				bar = progress.New(os.Stderr, l.Files, l.Size)
			case l.Fault != "":
				fmt.Fprintf(os.Stderr, "\nkithctl publish: %s: %s\n", cell(l.Title), cell(l.Fault))
			case l.Added != nil:
				if bar != nil {
					bar.Done(l.FileSize)
				}
				_ = enc.Encode(l.Added)
			case bar != nil:
				bar.Set(l.Bytes)
			}
		})
		if bar != nil {
			bar.Finish()
		}
		return err
	case "policy":
		var allow, deny multi
		fs.Var(&allow, "allow", "device ID or account allowed (list mode; repeatable)")
		fs.Var(&deny, "deny", "device ID or account refused (repeatable)")
		pos, err := parse(fs, args, 2, 2)
		if err != nil {
			return err
		}
		if err := c.call(ctx, "POST", "/policy", Request{Title: pos[0], Mode: pos[1], Allow: allow, Deny: deny}, nil); err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "policy of %s: %s\n", pos[0], pos[1])
		return nil
	case "neighbours":
		pos, err := parse(fs, args, 0, 2)
		if err != nil {
			return err
		}
		verb := "list"
		if len(pos) > 0 {
			verb = pos[0]
		}
		switch {
		case verb == "add" && len(pos) == 2:
			var nb share.Neighbour
			if err := c.call(ctx, "POST", "/neighbours/add", Request{Neighbour: pos[1]}, &nb); err != nil || c.json {
				return err
			}
			fmt.Fprintf(out, "added %s (%s) at %s: it proved its device key and is enrolled with this directory\n", cell(nb.Name), nb.ID, cell(strings.Join(nb.Addrs, " ")))
			return nil
		case verb == "remove" && len(pos) == 2:
			if err := c.call(ctx, "POST", "/neighbours/remove", Request{Neighbour: pos[1]}, nil); err != nil || c.json {
				return err
			}
			fmt.Fprintf(out, "removed %s\n", pos[1])
			return nil
		case verb != "list" || len(pos) > 1:
			return fmt.Errorf("%w: neighbours [list] | neighbours add HOST:PORT | neighbours remove HOST:PORT|DEVICE", errUsage)
		}
		var nbs []share.Neighbour
		if err := c.call(ctx, "GET", "/neighbours", nil, &nbs); err != nil || c.json {
			return err
		}
		fmt.Fprintln(tw, "DEVICE\tNAME\tFOUND\tADDRESSES")
		for _, n := range nbs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID, cell(n.Name), found(n), cell(strings.Join(n.Addrs, " ")))
		}
		return nil
	case "offers":
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		var offers []peer.Offer
		if err := c.call(ctx, "GET", "/offers?neighbour="+url.QueryEscape(pos[0]), nil, &offers); err != nil || c.json {
			return err
		}
		fmt.Fprintln(tw, "TITLE\tNAME\tCHUNKS\tCOMPLETE")
		for _, o := range offers {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%v\n", cell(o.TitleID), cell(o.Name), o.Have, o.Chunks, o.Complete)
		}
		return nil
	case "play":
		secs := fs.Float64("seconds", 0, "stop after this many seconds (0: play to the end)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		state := ""
		var at time.Duration
		err = c.stream(ctx, "/play", Request{Target: pos[0], Seconds: *secs}, func(l Line) {
			if l.State != "" && l.State != state {
				state = l.State
				fmt.Fprintf(out, "  %s: %s\n", cell(l.Title), cell(l.State))
			}
			if l.Position-at >= time.Second {
				at = l.Position
				fmt.Fprintf(out, "  %s: %s / %s\n", cell(l.Title), l.Position.Round(time.Second), l.Duration.Round(time.Second))
			}
		})
		if err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "played %s\n", pos[0])
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

func printReceipt(out io.Writer, rc directory.Receipt) {
	amount := "free"
	if rc.Amount > 0 {
		amount = fmt.Sprintf("%d.%02d %s", rc.Amount/100, rc.Amount%100, cell(rc.Currency))
	}
	fmt.Fprintf(out, "registered %s for %s: %s", cell(rc.TitleID), cell(rc.Account), amount)
	if rc.CardLast4 != "" {
		fmt.Fprintf(out, " (%s …%s)", cell(rc.CardBrand), cell(rc.CardLast4))
	}
	if rc.Supplier != "" {
		fmt.Fprintf(out, ", credited to supplier %s", cell(string(rc.Supplier)))
	}
	fmt.Fprintf(out, " — purchase %s\n", cell(rc.PurchaseID))
}

// parseCents turns "1.99" (or "free") into cents.
func parseCents(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "free" || s == "" || s == "0" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1_000_000 || math.IsNaN(v) {
		return 0, fmt.Errorf("--price %q: want a non-negative amount like 1.99", s)
	}
	return int64(math.Round(v * 100)), nil
}

// cell is a table cell's text from elsewhere (a directory's catalog, a
// peer's offer, a LAN neighbour's name) as one plain line: a hostile
// title name could otherwise carry a terminal's escape sequences, a line
// break drawing a row of its own or a U+202E, into the user's terminal.
func cell(s string) string { return oneline.Text(s, oneline.MaxMessage) }
