package lan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/hashicorp/mdns"
)

// AnnouncerOptions configure an Announcer.
type AnnouncerOptions struct {
	// Service is what to announce. Port is required; Instance defaults to
	// Service.DefaultInstance().
	Service Service
	// IPs are the addresses put in A/AAAA records. Empty means the
	// non-loopback addresses of the announcing interfaces, read when Serve
	// starts.
	IPs []net.IP
	// Interfaces names the interfaces to answer on. Empty means every up,
	// multicast-capable, non-loopback interface with an address (or the
	// kernel's default multicast interface if there is none).
	Interfaces []string
	// IPv4Only leaves IPv6 addresses out of the default IPs.
	IPv4Only bool
	// Logger receives our and hashicorp/mdns's messages; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Announcer answers mDNS queries for one Service.
type Announcer struct {
	opts     AnnouncerOptions
	instance string
	host     string
	txt      []string
	log      *slog.Logger
}

// NewAnnouncer checks the options and builds an Announcer; it starts
// nothing.
func NewAnnouncer(opts AnnouncerOptions) (*Announcer, error) {
	s := opts.Service
	txt, err := s.TXT()
	if err != nil {
		return nil, fmt.Errorf("new announcer: %w", err)
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, fmt.Errorf("new announcer: port %d out of range", s.Port)
	}
	inst := s.Instance
	if inst == "" {
		inst = s.DefaultInstance()
	}
	if err := checkInstance(inst); err != nil {
		return nil, fmt.Errorf("new announcer: %w", err)
	}
	for _, ip := range opts.IPs {
		if ip.To16() == nil {
			return nil, fmt.Errorf("new announcer: invalid IP %v", ip)
		}
	}
	return &Announcer{
		opts:     opts,
		instance: inst,
		// A host name of our own: namespaces and containers often share the
		// machine's host name, and the mdns client files A records by it.
		host: inst + ".local.",
		txt:  txt,
		log:  orDefault(opts.Logger).With("component", "lan", "service", s.Kind.String(), "instance", inst),
	}, nil
}

// Instance returns the DNS-SD instance name being announced; give it to a
// Browser as Self to hide our own announcement.
func (a *Announcer) Instance() string { return a.instance }

// Serve answers queries until ctx is done, then shuts the responders down
// and returns nil. It fails if no responder could be started.
func (a *Announcer) Serve(ctx context.Context) error {
	ifaces, err := interfaces(a.opts.Interfaces)
	if err != nil {
		return fmt.Errorf("announcing %s: %w", a.instance, err)
	}
	if len(ifaces) == 0 {
		ifaces = []*net.Interface{nil}
	}
	// Each responder answers with the addresses of its own interface, so a
	// multi-homed host does not tell a neighbour an address on another
	// link. (hashicorp/mdns's client keeps only the last A record of an
	// answer, and every responder socket hears queries from all links.)
	logger := mdnsLogger(a.log)
	var servers []*mdns.Server
	defer func() {
		for _, srv := range servers {
			_ = srv.Shutdown() // only closes sockets; never fails
		}
		a.log.Debug("announcer stopped")
	}()
	var errs []error
	var all []net.IP
	for _, ifi := range ifaces {
		ips := a.opts.IPs
		if len(ips) == 0 {
			if ips, err = addresses([]*net.Interface{ifi}, !a.opts.IPv4Only); err != nil {
				errs = append(errs, err)
				continue
			}
			if len(ips) == 0 {
				errs = append(errs, fmt.Errorf("no usable addresses on %s", ifaceName(ifi)))
				continue
			}
		}
		zone, err := mdns.NewMDNSService(a.instance, a.opts.Service.Kind.String(), "local.", a.host,
			a.opts.Service.Port, ips, a.txt)
		if err != nil {
			return fmt.Errorf("announcing %s: %w", a.instance, err)
		}
		srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: ifi, Logger: logger})
		if err != nil {
			errs = append(errs, fmt.Errorf("on %s: %w", ifaceName(ifi), err))
			continue
		}
		servers = append(servers, srv)
		all = append(all, ips...)
	}
	if len(servers) == 0 {
		return fmt.Errorf("announcing %s: %w", a.instance, errors.Join(errs...))
	}
	for _, err := range errs {
		a.log.Warn("mdns responder not started", "err", err)
	}
	a.log.Info("announcing", "port", a.opts.Service.Port, "ips", all, "interfaces", len(servers))
	<-ctx.Done()
	return nil
}

func ifaceName(ifi *net.Interface) string {
	if ifi == nil {
		return "default interface"
	}
	return ifi.Name
}
