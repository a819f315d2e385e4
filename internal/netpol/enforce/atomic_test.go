package enforce_test

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"golang.org/x/sys/unix"
)

// oneConnect makes one TCP connection attempt from ns and reports whether
// it was accepted and how many times the kernel resent its SYN (from
// TCP_INFO): a resent SYN means the first one was dropped, whereas a slow
// connect on a loaded machine without a resend was only late.
func oneConnect(ns *lab.NS, dst netip.AddrPort, timeout time.Duration) (ok bool, resent int) {
	ns.Do(func() error {
		c, err := net.DialTimeout("tcp", dst.String(), timeout)
		if err != nil {
			return nil
		}
		ok = true
		defer c.Close()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return nil
		}
		rc.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				resent = int(info.Total_retrans)
			}
		})
		return nil
	})
	return ok, resent
}

// TestAtomicReplace swaps two policy sets back and forth while probe loops
// run: a flow both sets deny never gets through, and a flow both allow is
// never dropped — not even one SYN (a connection that needs a resent SYN
// counts as a drop). Bridged traffic reaches the inet table through
// br_netfilter.
func TestAtomicReplace(t *testing.T) {
	atomicSwaps(t, lab.Options{BrNetfilter: true}, enforce.BridgeAuto,
		filepath.Join("testdata", "sets", "01-k8s-ingress.yaml"), filepath.Join("testdata", "sets", "03-calico-tiers.yaml"), nil)
}

// TestAtomicReplaceBridge is TestAtomicReplace without br_netfilter: the
// pods of one bridge are filtered by the bridge-family table, which keeps
// its own set of allowed flows (no connection tracking there).
func TestAtomicReplaceBridge(t *testing.T) {
	atomicSwaps(t, lab.Options{BrNetfilter: false}, enforce.BridgeFamily,
		filepath.Join("testdata", "sets", "01-k8s-ingress.yaml"), filepath.Join("testdata", "sets", "03-calico-tiers.yaml"), nil)
}

// TestAtomicReplaceSelectors swaps two sets that both allow shop/web ->
// shop/api 80/TCP through different selectors and port matches (app ==
// web and the named port http; role == frontend and port 80): the sets
// that admit the flow change names at every swap, and it is never
// dropped.
func TestAtomicReplaceSelectors(t *testing.T) {
	must := &atomicFlow{from: "shop/web", to: "shop/api", port: 80}
	atomicSwaps(t, lab.Options{BrNetfilter: true}, enforce.BridgeAuto,
		filepath.Join("testdata", "sets", "01-k8s-ingress.yaml"), filepath.Join("testdata", "atomic", "frontend.yaml"), must)
}

type atomicFlow struct {
	from, to string
	port     uint16
}

// atomicSwaps applies setA, then swaps setB and setA 40 times while probe
// loops run over up to 6 TCP flows both sets allow (must among them, when
// given) and up to 6 both deny.
func atomicSwaps(t *testing.T, opts lab.Options, mode enforce.BridgeMode, setA, setB string, must *atomicFlow) {
	w := lab.NewWorld(t, opts)
	world := filepath.Join("testdata", "world.yaml")
	cfgA := loadFiles(t, world, setA)
	cfgB := loadFiles(t, world, setB)
	a := applier(t, w.Host, mode)
	rsA, err := a.Compile(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	rsB, err := a.Compile(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if must != nil {
		// The selector sets must differ, or the swap proves nothing.
		selA, selB := selectorSets(rsA), selectorSets(rsB)
		if len(selA) == 0 || len(selB) == 0 || len(slices.DeleteFunc(selA, func(n string) bool { return slices.Contains(selB, n) })) == 0 {
			t.Fatalf("the two sets share every selector set: %v, %v", selectorSets(rsA), selB)
		}
	}
	ctx := context.Background()
	if _, err := a.Apply(ctx, rsA); err != nil {
		t.Fatal(err)
	}
	// Classify TCP flows between the pods by the two sets' verdicts.
	verdict := func(cfg *netpol.Config, f atomicFlow) bool {
		pp := netpol.PortProto{Protocol: netpol.ProtoTCP, Port: f.port, ICMPType: -1}
		s, _ := cfg.Endpoint(f.from)
		d, _ := cfg.Endpoint(f.to)
		return cfg.Allowed(pp.Flow(netpol.EndpointPeer(s, 4), netpol.EndpointPeer(d, 4), 4))
	}
	var both, neither []atomicFlow
	if must != nil {
		if !verdict(cfgA, *must) || !verdict(cfgB, *must) {
			t.Fatalf("%s -> %s:%d is not allowed by both sets", must.from, must.to, must.port)
		}
		both = append(both, *must)
	}
	refs := []string{"shop/web", "shop/api", "shop/db", "dev/tool", "dev/web", "ops/prom"}
	for _, from := range refs {
		for _, to := range refs {
			if from == to {
				continue
			}
			for _, port := range []uint16{80, 5432, 8080, 9090} {
				f := atomicFlow{from, to, port}
				if must != nil && f == *must {
					continue
				}
				va, vb := verdict(cfgA, f), verdict(cfgB, f)
				switch {
				case va && vb && len(both) < 6:
					both = append(both, f)
				case !va && !vb && len(neither) < 6:
					neither = append(neither, f)
				}
			}
		}
	}
	if len(both) < 1 || len(neither) < 3 || (must == nil && len(both) < 3) {
		t.Fatalf("too few flows to watch: %d allowed by both sets, %d denied by both", len(both), len(neither))
	}
	stop := make(chan struct{})
	var probes, leaks, drops atomic.Int64
	var wg sync.WaitGroup
	watch := func(f atomicFlow, allowed bool) {
		dst := netip.AddrPortFrom(w.Addr[f.to], f.port)
		for {
			select {
			case <-stop:
				return
			default:
			}
			timeout := 3 * time.Second
			if !allowed {
				timeout = 200 * time.Millisecond
			}
			ok, resent := oneConnect(w.NS[f.from], dst, timeout)
			probes.Add(1)
			switch {
			case !allowed && ok:
				leaks.Add(1)
				t.Errorf("leak: %s -> %s:%d got through, both sets deny it", f.from, f.to, f.port)
			case allowed && (!ok || resent > 0):
				drops.Add(1)
				t.Errorf("drop: %s -> %s:%d (ok %v, SYN resent %d times), both sets allow it", f.from, f.to, f.port, ok, resent)
			}
		}
	}
	for _, f := range both {
		wg.Go(func() { watch(f, true) })
	}
	if must != nil {
		// The flow under test gets two more loops.
		wg.Go(func() { watch(*must, true) })
		wg.Go(func() { watch(*must, true) })
	}
	for _, f := range neither {
		wg.Go(func() { watch(f, false) })
	}
	const swaps = 40
	var applyTime time.Duration
	for i := range swaps {
		rs := rsB
		if i%2 == 1 {
			rs = rsA
		}
		start := time.Now()
		res, err := a.Apply(ctx, rs)
		applyTime += time.Since(start)
		if err != nil || !res.Changed {
			t.Errorf("swap %d: %+v, %v", i, res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d swaps (mean apply %s) under %d probes of %d flows: %d leaks of denied flows, %d drops of allowed flows",
		swaps, (applyTime / swaps).Round(time.Microsecond), probes.Load(), len(both)+len(neither), leaks.Load(), drops.Load())
	if probes.Load() < int64(swaps) {
		t.Errorf("only %d probes during %d swaps", probes.Load(), swaps)
	}
}

// selectorSets are the names of the selector sets of rs's inet table.
func selectorSets(rs *enforce.Ruleset) []string {
	var out []string
	for _, s := range rs.Tables[0].Sets {
		if strings.HasPrefix(s.Name, "sel/") {
			out = append(out, s.Name)
		}
	}
	return out
}
