// Package app is Kith's desktop GUI, written with Fyne. It imports no
// network or audio code of its own: every screen is a plain function from
// small interfaces this package declares (Session, Catalog, Library,
// Neighbours, Sharing, Player — see ports.go; Pairing in pair.go; Media
// and Playlists in media_ports.go; VideoPlayer in video.go; all gathered
// in Backend) to a fyne.CanvasObject, and
// package app/wire adapts the real share.Node, player.Player and directory
// client to them (main.go builds both and runs them).
//
// # Threads
//
// There is exactly one boundary between the UI goroutine and the rest:
//
//   - Backends report changes by calling the func given to their
//     Changes(fn) method, from any goroutine. That func only marks the
//     area dirty (a non-blocking send on a channel of capacity one, so a
//     burst of a thousand progress events is one refresh).
//   - UI.Serve(ctx) is the one loop that, for each dirty area, loads a
//     snapshot from the backend on its own goroutine (a 10,000-title query
//     never runs on the UI goroutine) and hands the snapshot to the widgets
//     with fyne.Do.
//   - Taps that call a backend (buy, fetch, sign in) run the call on a
//     background goroutine (UI.background) and report the result with
//     fyne.Do; while it runs the button is disabled and an activity
//     indicator shows.
//   - When Serve's ctx ends the UI stops first: nothing is posted with
//     fyne.Do after that (Fyne's loop may have ended; a post then runs off
//     the UI goroutine or panics), and Serve waits for the taps' work.
//
// Video frames take the same seam: the player hands each frame, when due,
// to the video view (video.go, VideoOut) on its presenting goroutine; the
// view copies it into the back one of three buffers and queues a fyne.Do
// only when none is queued, so a burst while the UI is busy is one
// callback showing the newest frame, and the buffer being drawn is never
// written. While frames flow, the player's state (position 4 times a
// second) rides on the next frame's callback instead of one of its own
// (carry.go; at most 100 ms, numbered so an older state never replaces a
// newer one): Fyne repaints the whole window for any change, so a bar
// update between two frames was a second full paint. The Sharing screen's
// install offer is read only while that screen shows (reading it makes the
// install package from this program the first time: seconds of CPU).
//
// Widgets are passive: NowPlaying has SetState and OnPlayPause-style hooks
// and never calls a backend itself. Large lists (library, store page,
// uploads) are widget.List / widget.Table, so 10,000 titles cost as much as
// the rows on screen.
//
// Fyne runs with the migrated thread model (FyneApp.toml [Migrations]
// fyneDo = true, build tag migrated_fynedo).
//
// # Devices
//
// Settings → Devices (devices.go) lists the devices enrolled under the
// account (Session.Devices: the directory's list, revoked ones left out,
// this one marked, asked for when Settings is shown) with Remove on each
// other one; Remove asks first, naming the device, because the directory
// refuses a revoked device for good (Session.RemoveDevice); the list is
// asked for again after. The directory caps an account's devices (403
// device_limit): a sign-in refused so shows the directory's words and
// sends the user to Settings → Devices on another of the account's
// devices, since this one, not signed in, cannot list them. This device
// leaves with Sign out, not Remove.
//
// # Measuring
//
// Stats counts the callbacks handed to the UI goroutine and how long each
// ran; with KITH_UI_PROBE=FILE set, Serve also posts a no-op with fyne.Do
// every 10 ms and writes how long those waited (p50, p99, max) to FILE
// when it ends — under the real driver, the longest the UI was frozen.
//
// # Video
//
// A video title shows its picture in the video view (ViewVideo), in the
// main area above the now-playing bar, whose controls drive it; F or a
// double click shows it alone, full screen, and Escape returns. The view
// tells the player its size in pixels (VideoOut.VideoBox), so frames come
// converted by swscale at that size, and draws them with canvas.Image and
// ImageScaleFastest (the GPU's nearest filter on a texture already the
// right size: Fyne's smooth scaling resizes on the UI goroutine and stalls
// it at 720p). The inspector reports the view's counts (frames received,
// put on the canvas, drawn by the painter).
//
// # Inspector
//
// With KITH_INSPECT_SOCKET set to a path (tests only; see inspect.go),
// main serves GET /tree on a unix socket there: every visible object of
// the window with its type, text, position and state, read on the UI
// goroutine — how e2e's TestDrivenHousehold finds what to click and checks
// what the window shows.
//
// # Subpackages
//
// app/wire adapts the real parts to these interfaces and starts the
// embedded household directory; app/mpris exposes the player over MPRIS 2.
//
// # Preferences
//
// Stored with fyne.Preferences: "theme" ("light", "dark", "" = system),
// "view" (the last screen), "window.width" and "window.height".
package app
