package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// sessionBusAvailable reports whether a D-Bus session bus is likely
// reachable. On Linux and the BSDs Fyne's system tray talks D-Bus, and
// without a bus it fails (at quit, with a nil connection), so Kith shows no
// tray icon then: a desktop without a bus has no tray to show it in.
func sessionBusAvailable() bool {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd":
	default:
		return true
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if strings.HasPrefix(addr, "unix:path=") {
		p := strings.TrimPrefix(addr, "unix:path=")
		if i := strings.IndexByte(p, ','); i >= 0 {
			p = p[:i]
		}
		_, err := os.Stat(p)
		return err == nil
	}
	if addr != "" {
		return true // abstract socket or TCP: trust it
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "bus")); err == nil {
			return true
		}
	}
	return false
}
