package app

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/assets"
	"github.com/kith-media/kith/directory"
)

// Preference keys.
const (
	prefTheme  = "theme"
	prefView   = "view"
	prefWidth  = "window.width"
	prefHeight = "window.height"
)

// Icon is Kith's application icon.
var Icon = fyne.NewStaticResource("kith.png", assets.Icon)

// accent is Kith's teal.
var accent = color.NRGBA{0x13, 0x7a, 0x7f, 0xff}

func viewIcon(v string) fyne.Resource {
	switch v {
	case ViewStore:
		return theme.SearchIcon()
	case ViewLibrary:
		return theme.StorageIcon()
	case ViewMusic:
		return theme.MediaMusicIcon()
	case ViewNeighbours:
		return theme.ComputerIcon()
	case ViewSharing:
		return theme.UploadIcon()
	case ViewSwarm:
		return theme.ViewRefreshIcon()
	case ViewSettings:
		return theme.SettingsIcon()
	}
	return theme.HomeIcon()
}

func brand() fyne.CanvasObject {
	img := canvas.NewImageFromResource(Icon)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSquareSize(32))
	name := canvas.NewText("Kith", theme.Color(theme.ColorNameForeground))
	name.TextSize = 22
	name.TextStyle.Bold = true
	return container.NewHBox(img, name)
}

// variantTheme forces the light or dark variant of the default theme.
type variantTheme struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

func applyTheme(a fyne.App, name string) {
	switch name {
	case "light":
		a.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	case "dark":
		a.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantDark})
	default:
		a.Settings().SetTheme(theme.DefaultTheme())
	}
}

// errorLabel is a label in the theme's error colour that wraps.
func errorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func showErr(l *widget.Label, err error) {
	if err == nil {
		l.SetText("")
		l.Hide()
		return
	}
	l.SetText(errText(err))
	l.Show()
}

func heading(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.SizeName = theme.SizeNameSubHeadingText
	l.TextStyle.Bold = true
	return l
}

// money formats cents of currency; 0 is "Free".
func money(cents int64, currency string) string {
	if cents == 0 {
		return "Free"
	}
	sym := currency + " "
	switch currency {
	case "EUR", "":
		sym = "€"
	case "USD":
		sym = "$"
	case "GBP":
		sym = "£"
	}
	return fmt.Sprintf("%s%d.%02d", sym, cents/100, cents%100)
}

// bytesText formats a byte count.
func bytesText(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(k*k*k))
}

func rateText(r float64) string {
	if r <= 0 {
		return "idle"
	}
	return bytesText(int64(r)) + "/s"
}

// lengthText is a title's playing time and, for a video, its size
// ("1:01 · 1280×720"); "" when neither is known.
func lengthText(d time.Duration, w, h int) string {
	var parts []string
	if d > 0 {
		parts = append(parts, clock(d))
	}
	if w > 0 && h > 0 {
		parts = append(parts, fmt.Sprintf("%d×%d", w, h))
	}
	return strings.Join(parts, " · ")
}

// titleLength is lengthText of a catalog title.
func titleLength(t directory.Title) string {
	return lengthText(time.Duration(t.DurationMS)*time.Millisecond, t.Width, t.Height)
}

// clock formats a duration as m:ss (h:mm:ss past an hour).
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Splash is the start-up screen shown while Kith looks for a directory
// and opens the library: the icon, a message and an activity bar.
func Splash(message string) fyne.CanvasObject {
	img := canvas.NewImageFromResource(Icon)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSquareSize(96))
	msg := widget.NewLabel(message)
	msg.Alignment = fyne.TextAlignCenter
	bar := widget.NewProgressBarInfinite()
	return container.NewCenter(container.NewVBox(img, msg, container.NewGridWrap(fyne.NewSize(280, 24), bar)))
}

// Failure is the screen shown when Kith cannot start: what went wrong, in
// words, and a Quit button.
func Failure(err error, quit func()) fyne.CanvasObject {
	l := widget.NewLabel(errText(err))
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	card := widget.NewCard("Kith could not start", "", container.NewVBox(l, widget.NewButton("Quit", quit)))
	return container.NewCenter(container.NewGridWrap(fyne.NewSize(520, 260), card))
}

// count says n things in English: "1 title", "0 titles", "2 titles".
// thing is the singular; the plural adds an s, or turns a final
// consonant-y into ies ("directories"), which fits every noun the screens
// count (titles, transfers, sources, devices, tracks, files, directories).
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if l := len(thing); l >= 2 && thing[l-1] == 'y' && !strings.ContainsRune("aeiou", rune(thing[l-2])) {
		return fmt.Sprintf("%d %sies", n, thing[:l-1])
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// dotted joins the non-empty parts with " · ", so a field a device did
// not report leaves no dangling separator.
func dotted(parts ...string) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}

// byArtist is "Title — Artist", or the title alone when the artist is not
// known.
func byArtist(name, artist string) string {
	if artist = strings.TrimSpace(artist); artist == "" {
		return name
	}
	return name + " — " + artist
}
