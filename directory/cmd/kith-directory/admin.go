package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kith-media/kith/directory"
)

const publishHelp = `
Seals FILE once with a fresh content key into the origin store, signs its
manifest with the directory key and adds the title to the catalog. Prints
the title as JSON. Works while "serve" runs on the same --data.

--price is in the currency's units ("1.99") or "free"/"0" (registration only).
--rights is a comma list: reshare | noreshare | days=N | expires=RFC3339.
--media-type defaults from the file extension.

Examples:
  kith-directory publish song.mp3 --title "Song" --artist "Band" --price 1.99 --rights reshare
  kith-directory publish talk.ogg --title "Talk" --price free --rights days=30
`

func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("publish", "publish FILE --title T [flags]", publishHelp, stderr)
	title := fs.String("title", "", "title name (required)")
	artist := fs.String("artist", "", "artist")
	price := fs.String("price", "0", `price in currency units, e.g. 1.99, or "free"`)
	currency := fs.String("currency", "EUR", "ISO 4217 currency code")
	rights := fs.String("rights", "noreshare", "reshare | noreshare | days=N | expires=RFC3339, comma-separated")
	mediaType := fs.String("media-type", "", "media type (default: from the file extension)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *title == "" {
		fs.Usage()
		return errUsage
	}
	cents, err := parsePrice(*price)
	if err != nil {
		return err
	}
	r, err := directory.ParseRights(*rights, time.Now())
	if err != nil {
		return err
	}
	mt := *mediaType
	if mt == "" {
		mt = strings.SplitN(mime.TypeByExtension(filepath.Ext(pos[0])), ";", 2)[0]
		if mt == "" {
			return fmt.Errorf("cannot guess the media type of %s: pass --media-type", pos[0])
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	id, st, origin, _, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := directory.Publish(ctx, st, id, origin, f, directory.PublishOptions{
		Name: *title, Artist: *artist, MediaType: mt, Price: cents, Currency: *currency, Rights: r})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// parsePrice turns "1.99" into 199 cents.
func parsePrice(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "free" || s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1_000_000 || math.IsNaN(v) {
		return 0, fmt.Errorf("--price %q: want a non-negative amount like 1.99", s)
	}
	return int64(math.Round(v * 100)), nil
}

const withdrawHelp = `
Withdraws a title from the catalog: it is no longer listed or sold; accounts
that own it still get licenses and the origin keeps serving its ciphertext.

Example:
  kith-directory withdraw 3f2a9c0d11e4b7a8
`

func cmdWithdraw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("withdraw", "withdraw TITLE_ID [flags]", withdrawHelp, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	_, st, _, _, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.WithdrawTitle(ctx, pos[0]); err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("no title %q", pos[0])
		}
		return err
	}
	fmt.Fprintf(stdout, "withdrew %s\n", pos[0])
	return nil
}

const billingHelp = `
billing export --csv   writes every billing event (one per purchase or free
                       registration), delivered or not, as CSV with a header:
                       event_id, kind, purchase, title, title_name, account,
                       device, amount (cents), currency, card_brand,
                       card_last4, supplier, time, delivered, attempts, last_error

Example:
  kith-directory billing export --csv --data /var/lib/kith > billing.csv
`

func cmdBilling(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("billing", "billing export --csv [flags]", billingHelp, stderr)
	csvOut := fs.Bool("csv", false, "write CSV (the only format)")
	out := fs.String("o", "", "write to this file instead of stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "export" || !*csvOut {
		fs.Usage()
		return errUsage
	}
	_, st, _, _, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return directory.ExportBillingCSV(ctx, st, w)
}

const accountsHelp = `
Lists accounts: name, creation time, active devices, purchases.

Example:
  kith-directory accounts --json
`

func cmdAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("accounts", "accounts [flags]", accountsHelp, stderr)
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	_, st, _, _, err := openData(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	as, err := st.Accounts(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tCREATED\tDEVICES\tPURCHASES")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", a.Name, a.Created.Format(time.RFC3339), a.Devices, a.Purchases)
	}
	return tw.Flush()
}
