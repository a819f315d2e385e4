// Package lab builds isolated networks for tests (enforcement, verify
// encryption): a "host" network namespace with bridges (and, as on a
// Docker host, routing between them), and "pod" namespaces attached to the
// bridges by veth pairs. Probes (TCP connect, UDP request/response, ICMP
// echo) run between these namespaces only, from sockets the test process
// opens inside them. Every namespace and interface name starts with the
// lab's prefix, and the lab removes them when the test ends.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol/netns"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// Options shape the lab.
type Options struct {
	// BrNetfilter sets the host namespace's bridge-nf-call-iptables and
	// bridge-nf-call-ip6tables: true passes bridged traffic to the inet
	// hooks (as Docker hosts do), false keeps it in the bridge family.
	BrNetfilter bool
}

// Lab is a host namespace with bridges and pods.
type Lab struct {
	t      testing.TB
	Prefix string
	Host   *NS
	mu     sync.Mutex
	pods   map[string]*NS
	nics   int
}

// NS is a network namespace of the lab.
type NS struct {
	lab   *Lab
	Name  string // ip netns name
	Path  string // /run/netns/NAME
	fd    *os.File
	Addrs []netip.Addr
}

// New creates the host namespace. It needs root and the ip command.
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCmd(t, "ip")
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		// br_netfilter's sysctls appear when the module is loaded; a
		// bridge-family-only lab does not need it.
		if opts.BrNetfilter {
			t.Skipf("host limit: br_netfilter is not loaded (no /proc/sys/net/bridge)")
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	l := &Lab{t: t, Prefix: "ld9" + hex.EncodeToString(b), pods: map[string]*NS{}}
	l.Host = l.newNS("h")
	l.ip("-n", l.Host.Name, "link", "set", "lo", "up")
	l.sysctl(l.Host, "net.ipv4.ip_forward", "1")
	l.sysctl(l.Host, "net.ipv6.conf.all.forwarding", "1")
	v := "0"
	if opts.BrNetfilter {
		v = "1"
	}
	if _, err := os.Stat("/proc/sys/net/bridge"); err == nil {
		l.sysctl(l.Host, "net.bridge.bridge-nf-call-iptables", v)
		l.sysctl(l.Host, "net.bridge.bridge-nf-call-ip6tables", v)
	}
	return l
}

func (l *Lab) newNS(suffix string) *NS {
	name := l.Prefix + "-" + suffix
	l.ip("netns", "add", name)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	path := "/run/netns/" + name
	if _, err := os.Stat(path); err != nil {
		path = "/var/run/netns/" + name
	}
	f, err := os.Open(path)
	if err != nil {
		l.t.Fatalf("open netns %s: %v", name, err)
	}
	l.t.Cleanup(func() { f.Close() })
	return &NS{lab: l, Name: name, Path: path, fd: f}
}

// FD is the namespace's file descriptor.
func (n *NS) FD() int { return int(n.fd.Fd()) }

func (l *Lab) ip(args ...string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (l *Lab) sysctl(n *NS, key, val string) {
	l.t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	err := n.Do(func() error { return os.WriteFile(path, []byte(val), 0o644) })
	if err != nil {
		l.t.Fatalf("sysctl %s=%s in %s: %v", key, val, n.Name, err)
	}
}

// Bridge adds a bridge to the host namespace with the gateway addresses
// (10.x.y.1/24, fd00::1/64) given.
func (l *Lab) Bridge(name string, gateways ...string) {
	l.t.Helper()
	br := l.Prefix + name
	if len(br) > 15 {
		l.t.Fatalf("bridge name %s too long", br)
	}
	l.ip("-n", l.Host.Name, "link", "add", br, "type", "bridge")
	for _, g := range gateways {
		l.addAddr(l.Host, br, g)
	}
	l.ip("-n", l.Host.Name, "link", "set", br, "up")
}

func (l *Lab) addAddr(n *NS, dev, cidr string) {
	p := netip.MustParsePrefix(cidr)
	args := []string{"-n", n.Name, "addr", "add", cidr, "dev", dev}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	l.ip(args...)
	n.Addrs = append(n.Addrs, p.Addr())
}

// Pod adds a namespace attached to bridge by a veth pair, with the
// addresses (CIDRs) and default routes through the bridge's gateways
// (the first address of each address's subnet).
func (l *Lab) Pod(name, bridge string, cidrs ...string) *NS {
	l.t.Helper()
	l.mu.Lock()
	l.nics++
	nic := fmt.Sprintf("%sv%d", l.Prefix, l.nics)
	l.mu.Unlock()
	n := l.newNS(name)
	l.ip("-n", l.Host.Name, "link", "add", nic, "type", "veth", "peer", "name", "eth0", "netns", n.Name)
	l.ip("-n", l.Host.Name, "link", "set", nic, "master", l.Prefix+bridge, "up")
	l.ip("-n", n.Name, "link", "set", "lo", "up")
	l.ip("-n", n.Name, "link", "set", "eth0", "up")
	for _, c := range cidrs {
		l.addAddr(n, "eth0", c)
		p := netip.MustParsePrefix(c).Masked()
		gw := p.Addr().Next()
		if p.Addr().Is6() {
			l.ip("-n", n.Name, "-6", "route", "add", "default", "via", gw.String())
		} else {
			l.ip("-n", n.Name, "route", "add", "default", "via", gw.String())
		}
	}
	l.mu.Lock()
	l.pods[name] = n
	l.mu.Unlock()
	return n
}

// SetAddrs replaces a pod's addresses (used to reuse pods for new
// worlds): every old address goes, the new ones come with on-link
// routes for their subnets.
func (l *Lab) SetAddrs(n *NS, cidrs ...string) {
	l.t.Helper()
	l.ip("-n", n.Name, "addr", "flush", "dev", "eth0")
	n.Addrs = nil
	for _, c := range cidrs {
		l.addAddr(n, "eth0", c)
	}
}

// Gateway adds an address to a host bridge (for worlds whose subnets
// change).
func (l *Lab) Gateway(bridge, cidr string) {
	l.addAddr(l.Host, l.Prefix+bridge, cidr)
}

// Exec runs a command in a namespace (for nft, conntrack) and returns
// its output.
func (n *NS) Exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// ports hands out distinct client ports, so that no probe reuses the
// 5-tuple of an earlier one (a connection-tracking entry of an earlier
// probe could otherwise let it through).
var ports atomic.Uint32

func nextPort() int {
	return 20000 + int(ports.Add(1)%40000)
}

// Do runs f inside the namespace: sockets f opens stay there.
func (n *NS) Do(f func() error) error { return netns.Do(n.FD(), f) }
