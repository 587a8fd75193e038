package lan

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const deviceService = "_kith._tcp.local."

// responsePacket packs a response announcing inst at the given addresses,
// as an Announcer does (PTR, SRV, TXT, then A/AAAA of the SRV target).
func responsePacket(t testing.TB, inst string, port uint16, txt []string, ips ...string) []byte {
	t.Helper()
	hdr := func(name string, typ uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: 120}
	}
	name, host := inst+"."+deviceService, inst+".local."
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Compress: true}
	m.Answer = []dns.RR{
		&dns.PTR{Hdr: hdr(deviceService, dns.TypePTR), Ptr: name},
		&dns.SRV{Hdr: hdr(name, dns.TypeSRV), Target: host, Port: port},
		&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: txt},
	}
	for _, ip := range ips {
		if a := net.ParseIP(ip); a.To4() != nil {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(host, dns.TypeA), A: a})
		} else {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(host, dns.TypeAAAA), AAAA: a})
		}
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseResponse(t *testing.T) {
	txt := []string{"v=1", "id=" + idA}
	// Every address of the packet is kept (hashicorp/mdns kept the last
	// A and the last AAAA), link-local IPv6 ones with the packet's zone.
	got, err := parseResponse(responsePacket(t, "Kith-A", 7001, txt, "10.0.0.1", "10.0.0.2", "fe80::1", "fd00::1"),
		deviceService, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(got); s != "[{Kith-A._kith._tcp.local. 7001 [v=1 id="+idA+"] [10.0.0.1 10.0.0.2 fe80::1%eth0 fd00::1]}]" {
		t.Errorf("parsed %s", s)
	}
	// Browsing another service, the PTR names nothing, but the SRV owner
	// still names an instance: accept checks the service suffix.
	if got, err := parseResponse(responsePacket(t, "kith-a", 7001, txt, "10.0.0.1"), "_kith-dir._tcp.local.", ""); err != nil ||
		len(got) != 1 || !strings.HasSuffix(got[0].Name, deviceService) {
		t.Errorf("other service: %v %v", got, err)
	}

	query := new(dns.Msg).SetQuestion(deviceService, dns.TypePTR)
	q, _ := query.Pack()
	noTXT := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: []dns.RR{&dns.SRV{
		Hdr: dns.RR_Header{Name: "kith-a." + deviceService, Rrtype: dns.TypeSRV, Class: dns.ClassINET}, Target: "h.local.", Port: 1}}}
	nt, _ := noTXT.Pack()
	one := responsePacket(t, "kith-a", 7001, txt, "10.0.0.1")
	many := slices.Clone(one)
	binary.BigEndian.PutUint16(many[10:], maxRecords) // ARCOUNT: over the cap with the answers
	for _, c := range []struct {
		name string
		pkt  []byte
		want string // error substring; "" for no error and no answers
	}{
		{"query", q, "not a response"},
		{"short", q[:5], "shorter"},
		{"oversize", make([]byte, maxPacket+1), "over 9000"},
		{"too many records", many, "records, over"},
		{"no TXT", nt, ""},
		{"truncated", one[:len(one)-3], "dns"},
		{"garbage", []byte("\x00\x00\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00\xff\xff"), "dns"},
	} {
		got, err := parseResponse(c.pkt, deviceService, "")
		if c.want == "" && (err != nil || len(got) != 0) || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, %v; want error %q", c.name, got, err, c.want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	txt := []string{"v=1", "id=" + idA, "dir=" + fp1}
	f.Add(responsePacket(f, "kith-a", 7001, txt, "10.0.0.1"))
	f.Add(responsePacket(f, "kith-b", 7002, txt, "10.0.0.1", "fe80::2", "fd00::2"))
	f.Add(responsePacket(f, "kith-c", 0, nil))
	two := responsePacket(f, "kith-a", 7001, txt, "10.0.0.1")
	f.Add(append(two[:len(two):len(two)], responsePacket(f, "kith-d", 7001, txt, "10.0.0.3")...))
	q, _ := new(dns.Msg).SetQuestion(deviceService, dns.TypePTR).Pack()
	f.Add(q)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		got, err := parseResponse(pkt, deviceService, "eth0")
		if err != nil && len(got) != 0 {
			t.Fatalf("answers with an error: %v", got)
		}
		addrs := 0
		for _, a := range got {
			addrs += len(a.Addrs)
		}
		if len(got) > maxRecords || addrs > maxRecords*len(got) {
			t.Fatalf("%d answers, %d addresses from %d bytes", len(got), addrs, len(pkt))
		}
		// What reaches the table is checked: accept never panics.
		b := &Browser{opts: BrowserOptions{Kind: Device}}
		for _, a := range got {
			_, _, _ = b.accept(a, false)
		}
	})
}
