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
	"github.com/kith-media/kith/internal/progress"
	"github.com/kith-media/kith/share/tags"
)

const publishHelp = `
Seals each file once with a fresh content key into the origin store, signs
its manifest with the directory key and adds the title to the catalog (public).
PATH is a file or a folder (searched recursively for .mp3 .flac .ogg .oga
.opus .m4a .mp4 .m4v .wav .webm .mkv). Without --title the title, artist, album, track,
year, genre, duration and cover are read from each file's tags (untagged
files are named from the file name). Prints one JSON line per title; on a
terminal, progress goes to stderr. Works while "serve" runs on the same --data.

--price is in the currency's units ("1.99") or "free"/"0" (registration only).
--rights is a comma list: reshare | noreshare | days=N | expires=RFC3339.
--media-type defaults from the file's content, then its extension.

Examples:
  kith-directory publish ~/Music/Album --price 0.99 --rights reshare
  kith-directory publish song.mp3 --title "Song" --artist "Band" --price 1.99 --rights reshare
  kith-directory publish talk.ogg --title "Talk" --price free --rights days=30
`

func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("publish", "publish PATH... [--title T] [flags]", publishHelp, stderr)
	store := addStoreFlag(fs)
	title := fs.String("title", "", "title name (default: from the tags; one file only)")
	artist := fs.String("artist", "", "artist (default: from the tags)")
	price := fs.String("price", "0", `price in currency units, e.g. 1.99, or "free"`)
	currency := fs.String("currency", "EUR", "ISO 4217 currency code")
	rights := fs.String("rights", "noreshare", "reshare | noreshare | days=N | expires=RFC3339, comma-separated")
	mediaType := fs.String("media-type", "", "media type (default: from the file)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef(fs, "name the files or folders to publish")
	}
	cents, err := parsePrice(*price)
	if err != nil {
		return err
	}
	r, err := directory.ParseRights(*rights, time.Now())
	if err != nil {
		return err
	}
	files, err := tags.MediaFiles(ctx, pos)
	if err != nil {
		return err
	}
	if *title != "" && (len(files) != 1 || len(pos) != 1) {
		return usagef(fs, "--title names a single file, not %d files (%s): leave it out to read each file's tags", len(files), strings.Join(pos, " "))
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "kith-directory publish: no media files in %s (it takes %s)\n", strings.Join(pos, " "), strings.Join(tags.MediaExtensions(), " "))
		return nil
	}
	id, st, origin, _, err := openData(ctx, *data, *store, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	var total int64
	for _, f := range files {
		total += f.Size
	}
	prog := progress.New(stderr, len(files), total)
	enc := json.NewEncoder(stdout)
	for _, mf := range files {
		o := directory.PublishOptions{Name: *title, Artist: *artist, MediaType: *mediaType, Price: cents, Currency: *currency, Rights: r}
		in, err := tags.Read(ctx, mf.Path, tags.Options{})
		switch {
		case err == nil:
			for _, p := range in.Problems {
				fmt.Fprintf(stderr, "kith-directory: %s: %s (using fallbacks)\n", mf.Path, p)
			}
			if o.Name == "" {
				o.Name = in.Title
			}
			if o.Artist == "" {
				o.Artist = in.Artist
			}
			if o.MediaType == "" {
				o.MediaType = in.MediaType
			}
			o.Tags = directory.TitleTags{Album: in.Album, AlbumArtist: in.AlbumArtist, Genre: in.Genre, Track: in.Track,
				Disc: in.Disc, Year: in.Year, DurationMS: in.Duration.Milliseconds(), Width: in.Width, Height: in.Height}
			o.Artwork = in.Artwork
		case errors.Is(err, tags.ErrNotMedia) && *title != "":
			// Named by hand: publish it as given.
			if o.MediaType == "" {
				o.MediaType = strings.SplitN(mime.TypeByExtension(filepath.Ext(mf.Path)), ";", 2)[0]
			}
			if o.MediaType == "" {
				return fmt.Errorf("cannot guess the media type of %s: pass --media-type", mf.Path)
			}
		default:
			return fmt.Errorf("%s: %w", mf.Path, err)
		}
		f, err := os.Open(mf.Path)
		if err != nil {
			return err
		}
		t, err := directory.Publish(ctx, st, id, origin, prog.Reader(f, mf.Path), o)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", mf.Path, err)
		}
		prog.Done(mf.Size)
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	prog.Finish()
	return nil
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
	store := addStoreFlag(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef(fs, "name one title ID to withdraw (got %d arguments)", len(pos))
	}
	_, st, _, _, err := openData(ctx, *data, *store, stderr)
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
	store := addStoreFlag(fs)
	csvOut := fs.Bool("csv", false, "write CSV (the only format)")
	out := fs.String("o", "", "write to this file instead of stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "export" || !*csvOut {
		return usagef(fs, "the one billing command is: billing export --csv")
	}
	_, st, _, _, err := openData(ctx, *data, *store, stderr)
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
Lists accounts: name, creation time, active devices, devices removed
(revoked: kept so their keys cannot enrol again), purchases.

Example:
  kith-directory accounts --json
`

func cmdAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("accounts", "accounts [flags]", accountsHelp, stderr)
	store := addStoreFlag(fs)
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef(fs, "accounts takes no arguments (got %q)", pos)
	}
	_, st, _, _, err := openData(ctx, *data, *store, stderr)
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
	fmt.Fprintln(tw, "ACCOUNT\tCREATED\tDEVICES\tREMOVED\tPURCHASES")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", a.Name, a.Created.Format(time.RFC3339), a.Devices, a.Removed, a.Purchases)
	}
	return tw.Flush()
}
