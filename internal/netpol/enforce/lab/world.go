package lab

import (
	"net/netip"
	"testing"
)

// World is the lab of testdata/world.yaml (in package enforce): two
// bridges routed by the host, six pods, an outside host, and the host's
// own addresses as the host endpoint "node".
type World struct {
	*Lab
	// NS maps an endpoint reference (namespace/name, "node", or the
	// outside host's address) to the namespace probes start from.
	NS map[string]*NS
	// Addr maps an endpoint reference to its IPv4 address.
	Addr map[string]netip.Addr
}

// TCPPorts and UDPPorts are served in every namespace of the world.
var (
	TCPPorts = []uint16{22, 80, 443, 5432, 8080, 8081, 8090, 9090, 9100}
	UDPPorts = []uint16{53, 5353}
)

// NewWorld builds the world and starts the listeners.
func NewWorld(t testing.TB, opts Options) *World {
	t.Helper()
	l := New(t, opts)
	l.Bridge("b0", "10.99.1.1/24", "fd99:1::1/64")
	l.Bridge("b1", "10.99.2.1/24", "fd99:2::1/64")
	w := &World{Lab: l, NS: map[string]*NS{}, Addr: map[string]netip.Addr{}}
	for _, p := range []struct {
		ref, name, bridge string
		cidrs             []string
	}{
		{"shop/web", "sweb", "b0", []string{"10.99.1.10/24", "fd99:1::10/64"}},
		{"shop/api", "sapi", "b0", []string{"10.99.1.11/24", "fd99:1::11/64"}},
		{"shop/db", "sdb", "b0", []string{"10.99.1.12/24"}},
		{"dev/tool", "dtool", "b1", []string{"10.99.2.10/24"}},
		{"dev/web", "dweb", "b1", []string{"10.99.2.11/24"}},
		{"ops/prom", "oprom", "b1", []string{"10.99.2.12/24"}},
		{"10.99.2.99", "ext", "b1", []string{"10.99.2.99/24"}},
	} {
		ns := l.Pod(p.name, p.bridge, p.cidrs...)
		w.NS[p.ref] = ns
		w.Addr[p.ref] = netip.MustParsePrefix(p.cidrs[0]).Addr()
		ns.Listen(TCPPorts, UDPPorts)
	}
	w.NS["node"] = l.Host
	w.Addr["node"] = netip.MustParseAddr("10.99.1.1")
	l.Host.Listen(TCPPorts, UDPPorts)
	return w
}
