package enforce_test

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/netpol/netns"
	"golang.org/x/sys/unix"
)

// oneConnect makes one TCP connection attempt from ns and reports whether
// it was accepted and how many times the kernel resent its SYN (from
// TCP_INFO): a resent SYN means the first one was dropped, whereas a slow
// connect on a loaded machine without a resend was only late.
func oneConnect(ns *lab.NS, dst netip.AddrPort, timeout time.Duration) (ok bool, resent int) {
	netns.Do(ns.FD(), func() error {
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
// counts as a drop).
func TestAtomicReplace(t *testing.T) {
	w := lab.NewWorld(t, lab.Options{BrNetfilter: true})
	world := filepath.Join("testdata", "world.yaml")
	cfgA := loadFiles(t, world, filepath.Join("testdata", "sets", "01-k8s-ingress.yaml"))
	cfgB := loadFiles(t, world, filepath.Join("testdata", "sets", "03-calico-tiers.yaml"))
	a := applier(t, w.Host, enforce.BridgeAuto)
	rsA, err := a.Compile(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	rsB, err := a.Compile(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Apply(ctx, rsA); err != nil {
		t.Fatal(err)
	}
	// Classify TCP flows between the pods by the two sets' verdicts.
	type flow struct {
		from, to string
		port     uint16
	}
	var both, neither []flow
	refs := []string{"shop/web", "shop/api", "shop/db", "dev/tool", "dev/web", "ops/prom"}
	for _, from := range refs {
		for _, to := range refs {
			if from == to {
				continue
			}
			for _, port := range []uint16{80, 5432, 8080, 9090} {
				pp := netpol.PortProto{Protocol: netpol.ProtoTCP, Port: port, ICMPType: -1}
				verdict := func(cfg *netpol.Config) bool {
					s, _ := cfg.Endpoint(from)
					d, _ := cfg.Endpoint(to)
					return cfg.Allowed(pp.Flow(netpol.EndpointPeer(s, 4), netpol.EndpointPeer(d, 4), 4))
				}
				va, vb := verdict(cfgA), verdict(cfgB)
				switch {
				case va && vb && len(both) < 6:
					both = append(both, flow{from, to, port})
				case !va && !vb && len(neither) < 6:
					neither = append(neither, flow{from, to, port})
				}
			}
		}
	}
	if len(both) < 3 || len(neither) < 3 {
		t.Fatalf("too few flows to watch: %d allowed by both sets, %d denied by both", len(both), len(neither))
	}
	stop := make(chan struct{})
	var probes, leaks, drops atomic.Int64
	var wg sync.WaitGroup
	watch := func(f flow, allowed bool) {
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
