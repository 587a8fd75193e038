package lan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Bounds on what one response packet may carry; a packet beyond them is
// dropped whole.
const (
	// maxPacket is the largest mDNS packet (RFC 6762 section 17: 9000
	// bytes including the IP and UDP headers).
	maxPacket = 9000
	// maxRecords caps the records (answers, authority and additional) and
	// questions of one packet: ours carry 5 (PTR, SRV, TXT, A, AAAA) plus
	// one A or AAAA per further address.
	maxRecords = 64
	// maxRoundAnswers caps the answers kept from one query, so a flood of
	// packets cannot grow memory before the table's own caps apply.
	maxRoundAnswers = 1024
)

var (
	mdnsGroup4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	mdnsGroup6 = &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353}
)

// answer is one instance as announced in one response packet: its name,
// SRV port, TXT strings and the A/AAAA addresses of its SRV target from
// that same packet. Answers are never merged with other packets', so two
// hosts answering for one name give two answers (see doc.go).
type answer struct {
	Name  string
	Port  int
	TXT   []string
	Addrs []netip.Addr
}

// parseResponse reads one mDNS response packet into its answers for the
// service ("_kith._tcp.local."). zone is the packet's source zone, given to
// link-local IPv6 addresses (the zone is this host's interface, never on
// the wire). Instances named by a PTR record or owning an SRV record are
// answers once the packet also has their TXT record and a port; addresses
// may be missing (accept drops such answers).
func parseResponse(pkt []byte, service, zone string) ([]answer, error) {
	if len(pkt) > maxPacket {
		return nil, fmt.Errorf("packet of %d bytes, over %d", len(pkt), maxPacket)
	}
	if len(pkt) < 12 {
		return nil, errors.New("packet shorter than a DNS header")
	}
	// Counts checked before unpacking, so a packet cannot make us build
	// thousands of records.
	n := 0
	for i := 4; i < 12; i += 2 {
		n += int(binary.BigEndian.Uint16(pkt[i:]))
	}
	if n > maxRecords {
		return nil, fmt.Errorf("%d records, over %d", n, maxRecords)
	}
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		return nil, err
	}
	if !m.Response || m.Opcode != dns.OpcodeQuery || m.Rcode != dns.RcodeSuccess {
		return nil, errors.New("not a response")
	}
	type srv struct {
		target string
		port   int
	}
	var names []string // in order of first appearance
	srvs := map[string]srv{}
	txts := map[string][]string{}
	addrs := map[string][]netip.Addr{}
	add := func(name string) {
		for _, x := range names {
			if x == name {
				return
			}
		}
		names = append(names, name)
	}
	service = strings.ToLower(service)
	for _, rr := range append(m.Answer, m.Extra...) {
		name := strings.ToLower(rr.Header().Name)
		switch rr := rr.(type) {
		case *dns.PTR:
			if name == service {
				add(strings.ToLower(rr.Ptr))
			}
		case *dns.SRV:
			add(name)
			srvs[name] = srv{strings.ToLower(rr.Target), int(rr.Port)}
		case *dns.TXT:
			txts[name] = rr.Txt
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
				addrs[name] = append(addrs[name], a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok && len(rr.AAAA) == net.IPv6len && !a.Is4In6() {
				if a.IsLinkLocalUnicast() {
					a = a.WithZone(zone)
				}
				addrs[name] = append(addrs[name], a)
			}
		}
	}
	var out []answer
	for _, name := range names {
		s, ok := srvs[name]
		txt, hasTXT := txts[name]
		if !ok || !hasTXT {
			continue
		}
		// The original spelling of the name: checkInstance keeps its case.
		orig := name
		for _, rr := range append(m.Answer, m.Extra...) {
			if strings.EqualFold(rr.Header().Name, name) {
				orig = rr.Header().Name
				break
			}
		}
		out = append(out, answer{Name: orig, Port: s.port, TXT: txt, Addrs: addrs[s.target]})
	}
	return out, nil
}

// query sends one PTR query for service on ifi (nil: the kernel's default)
// over IPv4 or IPv6 and collects the answers of every response packet
// received within timeout, each packet parsed on its own. Like
// hashicorp/mdns's client, it sends from an unbound port (so responders
// answer by unicast, RFC 6762 section 6.7) and also listens on the
// multicast group for responders that multicast their answers.
func query(ctx context.Context, ifi *net.Interface, v6 bool, service string, timeout time.Duration, log *slog.Logger) ([]answer, error) {
	network, group, any := "udp4", mdnsGroup4, net.IPv4zero
	if v6 {
		network, group, any = "udp6", mdnsGroup6, net.IPv6zero
	}
	uconn, err := net.ListenUDP(network, &net.UDPAddr{IP: any})
	if err != nil {
		return nil, err
	}
	defer uconn.Close()
	mconn, err := net.ListenMulticastUDP(network, nil, group)
	if err != nil {
		return nil, err
	}
	defer mconn.Close()
	conns := []*net.UDPConn{uconn, mconn}
	if ifi != nil {
		for _, c := range conns {
			if v6 {
				err = ipv6.NewPacketConn(c).SetMulticastInterface(ifi)
			} else {
				err = ipv4.NewPacketConn(c).SetMulticastInterface(ifi)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	var q dns.Msg
	q.SetQuestion(service, dns.TypePTR)
	q.RecursionDesired = false
	buf, err := q.Pack()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for _, c := range conns {
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
	}
	// Cancelling ctx ends the reads at once.
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Unix(1, 0))
		}
	})
	defer stop()
	if _, err := uconn.WriteToUDP(buf, group); err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex
		out []answer
		wg  sync.WaitGroup
	)
	for _, c := range conns {
		wg.Go(func() {
			pkt := make([]byte, maxPacket+1)
			for fails := 0; ; {
				n, src, err := c.ReadFromUDPAddrPort(pkt)
				if err != nil {
					if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
						return
					}
					// Bounded, so a socket failing at once cannot spin
					// until the deadline.
					if fails++; fails > 16 {
						log.Debug("mdns reads failing, giving up this query", "err", err)
						return
					}
					continue
				}
				as, err := parseResponse(pkt[:n], service, src.Addr().Zone())
				if err != nil {
					log.Debug("ignoring mdns packet", "from", src, "err", err)
					continue
				}
				mu.Lock()
				out = append(out, as[:min(len(as), maxRoundAnswers-len(out))]...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, nil
}
