package share

import (
	"net"
	"sync"
	"time"
)

// ifaceAddrsFor is how long the interfaces' addresses read for an
// announcement are used again (ifaceAddrs).
const ifaceAddrsFor = 10 * time.Second

// interfaceAddrs reads the machine's interface addresses (net.InterfaceAddrs;
// a test counts the reads).
var interfaceAddrs = net.InterfaceAddrs

// ifaceAddrCache is the last read of interfaceAddrs and when it was made.
var ifaceAddrCache struct {
	sync.Mutex
	addrs []net.Addr
	at    time.Time
}

// ifaceAddrs is the machine's interface addresses, read again when the last
// read is older than ifaceAddrsFor. Every announcement lists our private
// networks (and, for a server listening on every address, our addresses):
// reading them is two netlink dumps of the kernel's tables, and a download
// announces as it starts and as it ends, besides the heartbeat. A network
// that changed shows in the announcements within ifaceAddrsFor, well within
// the heartbeat the directory's view of us already lags by.
func ifaceAddrs() []net.Addr {
	c := &ifaceAddrCache
	c.Lock()
	defer c.Unlock()
	if c.addrs != nil && time.Since(c.at) < ifaceAddrsFor {
		return c.addrs
	}
	addrs, err := interfaceAddrs()
	if err != nil {
		return nil // asked again next time
	}
	c.addrs, c.at = addrs, time.Now()
	return addrs
}
