package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
)

// welcomeScreen is first run: pairing with the household's directory (when
// this device has none yet), then sign-up / sign-in.
type welcomeScreen struct {
	u        *UI
	obj      fyne.CanvasObject
	pair     *pairPanel
	signup   *fyne.Container // the account step
	steps    *fyne.Container // pair or signup
	title    *widget.Card
	next     string // view to show after sign-in
	where    *widget.Label
	print    *widget.Label
	account  *widget.Entry
	password *widget.Entry
	device   *widget.Entry
	signUp   *widget.Button
	signIn   *widget.Button
	busy     *widget.ProgressBarInfinite
	err      *widget.Label
}

func newWelcomeScreen(u *UI) *welcomeScreen {
	s := &welcomeScreen{u: u, next: ViewStore}
	s.where = widget.NewLabel("")
	s.where.Wrapping = fyne.TextWrapWord
	s.print = widget.NewLabel("")
	s.print.TextStyle.Monospace = true
	s.print.Wrapping = fyne.TextWrapBreak
	s.account = widget.NewEntry()
	s.account.SetPlaceHolder("e.g. the-smiths")
	s.password = widget.NewPasswordEntry()
	s.password.SetPlaceHolder("at least 8 characters")
	s.device = widget.NewEntry()
	s.device.SetText(u.o.DeviceName)
	s.signUp = widget.NewButtonWithIcon("Create account", theme.AccountIcon(), func() { s.submit(true) })
	s.signUp.Importance = widget.HighImportance
	s.signIn = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), func() { s.submit(false) })
	s.busy = widget.NewProgressBarInfinite()
	s.busy.Hide()
	s.busy.Stop()
	s.err = errorLabel()
	form := widget.NewForm(
		widget.NewFormItem("Account", s.account),
		widget.NewFormItem("Password", s.password),
		widget.NewFormItem("This device", s.device),
	)
	s.signup = container.NewVBox(
		s.where, s.print, widget.NewSeparator(),
		widget.NewLabel("Create an account for your household, or sign in to add this device to one."),
		form, container.NewHBox(s.signUp, s.signIn), s.err)
	s.pair = newPairPanel(s)
	s.steps = container.NewStack(s.signup)
	s.title = widget.NewCard("Welcome to Kith", "Your library is also your household's network.",
		container.NewVBox(s.steps, s.busy))
	s.obj = container.NewCenter(container.NewGridWrap(fyne.NewSize(600, 600), container.NewVScroll(s.title)))
	return s
}

// paired reports whether this device has a directory to talk to.
func (s *welcomeScreen) paired() bool { return s.u.b.Session.Directory().URL != "" }

func (s *welcomeScreen) shown() {
	if !s.paired() {
		s.title.SetSubTitle("Step 1 of 2: pair with your household's directory")
		s.steps.Objects = []fyne.CanvasObject{s.pair.obj}
		s.steps.Refresh()
		s.pair.shown()
		return
	}
	s.title.SetSubTitle("Your library is also your household's network.")
	s.steps.Objects = []fyne.CanvasObject{s.signup}
	s.steps.Refresh()
	s.u.win.Canvas().Focus(s.account)
	d := s.u.b.Session.Directory()
	s.setDefault(d.Embedded)
	switch {
	case d.Embedded:
		s.where.SetText("No directory answered on your network, so Kith started a household directory on this computer, with a small demo catalog. Other computers in the house join it with a join code from Settings → Add a device.")
	case d.FoundOnLAN:
		s.where.SetText(fmt.Sprintf("Paired with “%s” on your network (%s): it proved it knows the join code its screen showed. Its fingerprint:", d.Name, d.URL))
	default:
		s.where.SetText(fmt.Sprintf("Directory “%s” at %s, fingerprint:", d.Name, d.URL))
	}
	s.print.SetText(string(d.Fingerprint))
}

// setDefault makes creating the account the default action (highlighted,
// and what Enter in a field does) on the computer that started the
// household, and signing in the default on one that joined it.
func (s *welcomeScreen) setDefault(create bool) {
	primary, other := s.signIn, s.signUp
	if create {
		primary, other = s.signUp, s.signIn
	}
	primary.Importance, other.Importance = widget.HighImportance, widget.MediumImportance
	primary.Refresh()
	other.Refresh()
	for _, e := range []*widget.Entry{s.account, s.password, s.device} {
		e.OnSubmitted = func(string) { s.submit(create) }
	}
}

// submit signs up or in off the UI goroutine.
func (s *welcomeScreen) submit(create bool) {
	account := strings.TrimSpace(s.account.Text)
	password := s.password.Text
	device := strings.TrimSpace(s.device.Text)
	switch {
	case account == "":
		showErr(s.err, fmt.Errorf("enter an account name"))
		return
	case password == "":
		showErr(s.err, fmt.Errorf("enter a password"))
		return
	case device == "":
		showErr(s.err, fmt.Errorf("name this device"))
		return
	}
	showErr(s.err, nil)
	s.setBusy(true)
	s.u.background(func(ctx context.Context) func() {
		var err error
		if create {
			err = s.u.b.Session.SignUp(ctx, account, password, device)
		} else {
			err = s.u.b.Session.SignIn(ctx, account, password, device)
		}
		return func() {
			s.setBusy(false)
			if err != nil {
				if text, ok := deviceLimitText(err); ok {
					err = errors.New(text)
				}
				showErr(s.err, err)
				return
			}
			s.password.SetText("")
			s.u.settings.refresh()
			s.u.Show(s.next)
			s.u.mark(areaLibrary)
		}
	})
}

func (s *welcomeScreen) setBusy(b bool) {
	if b {
		s.signUp.Disable()
		s.signIn.Disable()
		s.busy.Show()
		s.busy.Start()
		return
	}
	s.signUp.Enable()
	s.signIn.Enable()
	s.busy.Stop()
	s.busy.Hide()
}

// settingsScreen: theme, directory, account.
type settingsScreen struct {
	u       *UI
	obj     fyne.CanvasObject
	themeRG *widget.RadioGroup
	dirInfo *widget.Label
	account *widget.Label
	signOut *widget.Button
	dirURL  *widget.Entry
	saved   *widget.Label
	use     *widget.Button
	forget  *widget.Button
	join    *joinCodeCard
	watched *watchedCard
	devices *devicesCard
	box     *fyne.Container // the cards, laid out again when one grows
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u}
	s.themeRG = widget.NewRadioGroup([]string{"System", "Light", "Dark"}, func(v string) {
		name := strings.ToLower(v)
		if name == "system" {
			name = ""
		}
		u.app.Preferences().SetString(prefTheme, name)
		applyTheme(u.app, name)
	})
	s.themeRG.Horizontal = true
	switch u.app.Preferences().String(prefTheme) {
	case "light":
		s.themeRG.Selected = "Light"
	case "dark":
		s.themeRG.Selected = "Dark"
	default:
		s.themeRG.Selected = "System"
	}
	s.dirInfo = widget.NewLabel("")
	s.dirInfo.Wrapping = fyne.TextWrapBreak
	s.account = widget.NewLabel("")
	s.signOut = widget.NewButtonWithIcon("Sign out", theme.LogoutIcon(), s.tapSignOut)
	s.dirURL = widget.NewEntry()
	s.dirURL.SetPlaceHolder("https://host:port#FINGERPRINT")
	s.saved = widget.NewLabel("")
	s.saved.Wrapping = fyne.TextWrapWord
	s.saved.Hide()
	s.use = widget.NewButton("Use from next start", s.useDirectory)
	s.forget = widget.NewButtonWithIcon("Forget this directory", theme.DeleteIcon(), func() {
		if err := u.b.Pairing.SaveDirectory(""); err != nil {
			s.report(err)
			return
		}
		s.report(nil, "Forgotten. At the next start Kith looks on your network and asks you to pair again.")
	})
	s.join = newJoinCodeCard(u)
	s.watched = newWatchedCard(u)
	s.devices = newDevicesCard(u)
	s.refresh()
	s.box = container.NewVBox(
		heading("Settings"),
		widget.NewCard("Appearance", "", s.themeRG),
		widget.NewCard("Account", "", container.NewVBox(s.account, container.NewHBox(s.signOut))),
		widget.NewCard("Directory", "", container.NewVBox(s.dirInfo,
			widget.NewLabel("Use a different directory (a headless deployment):"),
			container.NewBorder(nil, nil, nil, s.use, s.dirURL), container.NewHBox(s.forget), s.saved)),
		// Adding a device is part of setting the household up: its card
		// comes before the watched folders, where a new household sees it
		// without scrolling.
		s.join.obj,
		// after Add a device, which a new household needs above the fold
		s.devices.obj,
		s.watched.obj,
	)
	s.obj = container.NewVScroll(s.box)
	return s
}

// shown asks for what Settings lists from elsewhere: the watched folders
// and the account's devices.
func (s *settingsScreen) shown() {
	s.watched.load()
	s.devices.load()
}

// useDirectory saves the directory typed in, for the next start.
func (s *settingsScreen) useDirectory() {
	v := strings.TrimSpace(s.dirURL.Text)
	if v == "" {
		s.report(errors.New("enter https://host:port#FINGERPRINT (`kith-directory fingerprint` prints the fingerprint), or use Forget"))
		return
	}
	if _, fp, err := directory.ParseURL(v); err != nil {
		s.report(err)
		return
	} else if fp == "" {
		s.report(errors.New("the fingerprint is missing: add #FINGERPRINT (`kith-directory fingerprint` on the directory's machine prints it)"))
		return
	}
	if err := s.u.b.Pairing.SaveDirectory(v); err != nil {
		s.report(err)
		return
	}
	s.report(nil, "Saved. Kith will use this directory from the next start.")
}

// report shows the outcome of a directory change.
func (s *settingsScreen) report(err error, ok ...string) {
	s.saved.Show()
	if err != nil {
		s.saved.Importance = widget.DangerImportance
		s.saved.SetText(errText(err))
		return
	}
	s.saved.Importance = widget.SuccessImportance
	s.saved.SetText(strings.Join(ok, " "))
}

func (s *settingsScreen) refresh() {
	d := s.u.b.Session.Directory()
	kind := "remote"
	if d.Embedded {
		kind = "household directory running in this app"
	} else if d.FoundOnLAN {
		kind = "found on your network"
	}
	s.dirInfo.SetText(fmt.Sprintf("%s — %s\n%s\nFingerprint %s", d.Name, kind, d.URL, d.Fingerprint))
	if d.URL == "" {
		s.dirInfo.SetText("Not paired with a directory yet.")
	}
	if d.Embedded {
		s.join.obj.Show()
	} else {
		s.join.obj.Hide()
	}
	if a := s.u.b.Session.Account(); a != "" {
		s.account.SetText("Signed in as " + a)
		s.signOut.Enable()
	} else {
		s.account.SetText("Not signed in")
		s.signOut.Disable()
	}
	// the list is asked for when Settings is shown, not at every start
	if s.u.view == ViewSettings || s.u.b.Session.Account() == "" {
		s.devices.load()
	}
}

// tapSignOut takes the device out of its account (at the directory too)
// and goes back to the welcome screen, where another account can sign in;
// the app keeps running.
func (s *settingsScreen) tapSignOut() {
	s.signOut.Disable()
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Session.SignOut(ctx)
		return func() {
			s.refresh()
			if err != nil {
				s.report(err)
				return
			}
			s.saved.Hide()
			s.u.welcome.account.SetText("") // another account signs in next
			s.u.mark(areaLibrary)
			s.u.Show(ViewSettings) // not signed in: the welcome screen, then back here
		}
	})
}
