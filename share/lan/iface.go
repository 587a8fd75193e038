package lan

import (
	"fmt"
	"log"
	"log/slog"
	"net"
)

// mdnsLogger returns the *log.Logger handed to hashicorp/mdns so its messages
// land in our slog logger (at debug level: they are mostly about packets
// from the LAN, which we do not control) instead of the standard logger.
func mdnsLogger(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.With("lib", "hashicorp/mdns").Handler(), slog.LevelDebug)
}

func orDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// interfaces resolves names to interfaces. With no names it returns every
// interface that is up, multicast-capable, not loopback and has an address;
// an empty result then means "let the kernel pick" (nil interface).
func interfaces(names []string) ([]*net.Interface, error) {
	if len(names) > 0 {
		out := make([]*net.Interface, 0, len(names))
		for _, n := range names {
			ifi, err := net.InterfaceByName(n)
			if err != nil {
				return nil, fmt.Errorf("looking up interface %q: %w", n, err)
			}
			out = append(out, ifi)
		}
		return out, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var out []*net.Interface
	for i := range all {
		ifi := &all[i]
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, err := ifi.Addrs(); err != nil || len(addrs) == 0 {
			continue
		}
		out = append(out, ifi)
	}
	return out, nil
}

// addresses returns the unicast addresses of ifaces that are worth
// announcing: not loopback, not multicast, not unspecified; IPv6 only when
// v6 is set.
func addresses(ifaces []*net.Interface, v6 bool) ([]net.IP, error) {
	var ips []net.IP
	for _, ifi := range ifaces {
		if ifi == nil {
			continue // the kernel's default: no addresses of its own
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := ipn.IP
			if ip.IsLoopback() || ip.IsMulticast() || ip.IsUnspecified() {
				continue
			}
			if ip.To4() == nil && (!v6 || ip.IsLinkLocalUnicast()) {
				// Link-local IPv6 needs a zone the peer cannot know.
				continue
			}
			ips = append(ips, ip)
		}
	}
	return ips, nil
}
