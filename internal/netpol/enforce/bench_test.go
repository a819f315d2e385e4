package enforce_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce"
	"github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/netpol/netns"
	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// Addresses of the two real pods of the benchmark worlds.
var (
	benchClient = netip.MustParseAddr("10.97.1.10")
	benchServer = netip.MustParseAddr("10.97.1.11")
)

// benchWorld writes a world of endpoints pods in 50 namespaces (100 apps,
// 5 tiers of labels) and policies: Kubernetes policies, Calico namespaced
// and global policies in four tiers with Pass, Deny, nets, notNets and
// port ranges, and — on the path of the client → server:8080 flow the
// per-packet benchmark measures — 20 policies selecting the server whose
// rules do not match before the last one allows the client.
func benchWorld(endpoints, policies int) string {
	return benchWorldWalk(endpoints, policies, 20, benchClient, benchServer)
}

// benchWorldWalk is benchWorld with onPath policies selecting the server
// and the client and server at the addresses given.
func benchWorldWalk(endpoints, policies, onPath int, client, server netip.Addr) string {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d, labels: {team: t%d}}\n---\n", i, i%4)
	}
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: ns0, labels: {app: client}}\nstatus: {podIP: %s}\n---\n", client)
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: ns0, labels: {app: server}}\nspec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}\nstatus: {podIP: %s}\n---\n", server)
	for i := range endpoints - 2 {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: ns%d, labels: {app: a%d, tier: t%d}}\nspec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}\nstatus: {podIP: 10.200.%d.%d}\n---\n",
			i, i%50, i%100, i%5, i/250, i%250+1)
	}
	for i := range 4 {
		fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: tier%d}\nspec: {order: %d, defaultAction: Pass}\n---\n", i, (i+1)*10)
	}
	for k := range onPath {
		fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: server-%d, namespace: ns0}\nspec:\n  order: %d\n  selector: app == 'server'\n  ingress:\n  - {action: Allow, protocol: TCP, source: {selector: \"app == 'nomatch%d'\"}, destination: {ports: [http]}}\n",
			k, k, k)
		if k == onPath-1 {
			b.WriteString("  - {action: Allow, protocol: TCP, source: {selector: \"app == 'client'\"}, destination: {ports: [http]}}\n")
		}
		b.WriteString("---\n")
	}
	for k := range policies - onPath {
		switch k % 5 {
		case 0, 1:
			fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k%d, namespace: ns%d}\nspec:\n  podSelector: {matchLabels: {app: a%d}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: a%d}}}, {namespaceSelector: {matchLabels: {team: t%d}}}]\n    ports: [{port: 80}, {port: 443}, {port: http}]\n---\n",
				k, k%50, k%100, (k+1)%100, k%4)
		case 2, 3:
			fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c%d, namespace: ns%d}\nspec:\n  selector: app == 'a%d'\n  ingress:\n  - {action: Allow, protocol: TCP, source: {selector: \"app in {'a%d', 'a%d'}\"}, destination: {ports: ['8000:8100', 443]}}\n  - {action: Deny, protocol: UDP}\n  egress:\n  - {action: Allow, destination: {nets: [10.200.0.0/16]}}\n---\n",
				k, k%50, k%100, (k+2)%100, (k+3)%100)
		default:
			fmt.Fprintf(&b, "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: tier%d.g%d}\nspec:\n  tier: tier%d\n  order: %d\n  selector: tier == 't%d'\n  ingress:\n  - {action: Deny, source: {nets: [192.168.%d.0/24]}}\n  - {action: Pass, source: {notNets: [10.200.0.0/16]}}\n---\n",
				k%4, k, k%4, k, k%5, k%250)
		}
	}
	return b.String()
}

// BenchmarkCompileApply compiles 1,000 endpoints × 500 policies and
// applies the result in one transaction (target: under 2 s); it reports
// the ruleset's size. The table is removed (untimed) before every
// iteration, so each one builds it from nothing; BenchmarkSwap measures
// a policy change of a table in force.
func BenchmarkCompileApply(b *testing.B) {
	l := lab.New(b, lab.Options{BrNetfilter: true})
	cfg := buildYAML(b, benchWorld(1000, 500))
	a := applier(b, l.Host, enforce.BridgeAuto)
	ctx := context.Background()
	var rs *enforce.Ruleset
	var compile, apply, compileCPU, applyCPU time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start, cpu0 := time.Now(), cpuTime()
		rs = compiled(b, a, cfg)
		mid, cpu1 := time.Now(), cpuTime()
		compile += mid.Sub(start)
		compileCPU += cpu1 - cpu0
		if _, err := a.Apply(ctx, rs); err != nil {
			b.Fatal(err)
		}
		apply += time.Since(mid)
		applyCPU += cpuTime() - cpu1
		b.StopTimer()
		if _, err := a.Remove(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	c := rs.Counts()
	// On a shared machine wall time follows the load; the process's CPU
	// time (user and system, the kernel's work on the batch included)
	// does not.
	b.ReportMetric(float64(compile.Milliseconds())/float64(b.N), "compile-ms/op")
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply-ms/op")
	b.ReportMetric(float64(compileCPU.Milliseconds())/float64(b.N), "compile-cpu-ms/op")
	b.ReportMetric(float64(applyCPU.Milliseconds())/float64(b.N), "apply-cpu-ms/op")
	b.ReportMetric(float64(rs.Endpoints), "endpoints")
	b.ReportMetric(float64(rs.Policies), "policies")
	b.ReportMetric(float64(c.Chains), "chains")
	b.ReportMetric(float64(c.Rules), "rules")
	b.ReportMetric(float64(c.Sets), "sets")
	b.ReportMetric(float64(c.Elements), "elements")
}

// BenchmarkSwap is a policy update under 1,000 endpoints × 500 policies:
// Apply alternates between two policy sets over the same endpoints (the
// second changes the ports and peers of the Kubernetes and Calico
// namespaced policies), as `netpol apply` does when the policies change.
func BenchmarkSwap(b *testing.B) {
	l := lab.New(b, lab.Options{BrNetfilter: true})
	world := benchWorld(1000, 500)
	other := strings.NewReplacer("{port: 443}, {port: http}", "{port: 8443}, {port: http}",
		"'8000:8100', 443", "'9000:9100', 8443", "app in {", "app not in {").Replace(world)
	if other == world {
		b.Fatal("the second policy set is the first")
	}
	a := applier(b, l.Host, enforce.BridgeAuto)
	var rs [2]*enforce.Ruleset
	for i, text := range []string{world, other} {
		rs[i] = compiled(b, a, buildYAML(b, text))
	}
	ctx := context.Background()
	if _, err := a.Apply(ctx, rs[1]); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c0 := cpuTime()
		res, err := a.Apply(ctx, rs[i%2])
		if err != nil || !res.Changed {
			b.Fatalf("swap %d: %+v, %v", i, res, err)
		}
		cpu += cpuTime() - c0
		i++
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompile is the compile step alone.
func BenchmarkCompile(b *testing.B) {
	cfg := buildYAML(b, benchWorld(1000, 500))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enforce.Compile(cfg, enforce.CompileOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPacketCost measures TCP connection setup and throughput between
// two network namespaces on one bridge in three separate labs (hosts) run
// side by side: one with no ruleset, one with connection tracking alone
// (what a Docker host always has: Docker's FORWARD rules accept
// RELATED,ESTABLISHED) and one with the 500 policies applied. The three
// take turns connect by connect (and burst by burst for throughput), in a
// rotating order, so that the machine's load hits them alike; nothing is
// changed while measuring. Each iteration reports the ratios of the
// medians (with / without); the benchmark reports the medians of those.
// Two worlds of 500 policies: in walk=1 the first policy selecting the
// server allows the client (the common case); in walk=20 the SYN walks 20
// policies selecting the server before the last allows it (each policy
// on the path is a jump and a failed set lookup). Established packets
// take the conntrack shortcut in both.
func BenchmarkPacketCost(b *testing.B) {
	for _, walk := range []int{1, 20} {
		b.Run(fmt.Sprintf("walk=%d", walk), func(b *testing.B) { packetCost(b, walk) })
	}
}

// packetCost is BenchmarkPacketCost with the SYN walking walk policies
// of the server's before one allows it.
func packetCost(b *testing.B, walk int) {
	cfg := buildYAML(b, benchWorldWalk(1000, 500, walk, benchClient, benchServer))
	s, _ := cfg.Endpoint(benchClient.String())
	d, _ := cfg.Endpoint(benchServer.String())
	pp := netpol.PortProto{Protocol: netpol.ProtoTCP, Port: 8080, ICMPType: -1}
	if !cfg.Allowed(pp.Flow(netpol.EndpointPeer(s, 4), netpol.EndpointPeer(d, 4), 4)) {
		b.Fatal("the bench world denies client -> server:8080")
	}
	dst := netip.AddrPortFrom(benchServer, 8080).String()
	type side struct {
		client  *lab.NS
		lat     []time.Duration
		bytes   int
		elapsed time.Duration
	}
	newSide := func() (*side, *lab.Lab) {
		l := lab.New(b, lab.Options{BrNetfilter: true})
		l.Bridge("b0", "10.97.1.1/24")
		client := l.Pod("client", "b0", benchClient.String()+"/24")
		server := l.Pod("server", "b0", benchServer.String()+"/24")
		serveIn(b, server.FD(), 8080)
		return &side{client: client}, l
	}
	none, _ := newSide()
	tracked, lt := newSide()
	policies, lp := newSide()

	conn, err := nft.Dial(lt.Host.FD())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ct := &nft.Table{Family: nft.Inet, Name: "ld9conntrack", Chains: []*nft.Chain{{Name: "forward", Hook: &nft.Hook{Name: nft.HookForward, Priority: 0},
		Rules: []*nft.Rule{{Match: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtEstablished | nft.CtRelated}}, Verdict: nft.Verdict{Kind: nft.Accept}}}}}}
	if err := nft.Apply(conn, []*nft.Table{ct}, nil); err != nil {
		b.Fatal(err)
	}
	a := applier(b, lp.Host, enforce.BridgeAuto)
	if _, err := a.Apply(context.Background(), compiled(b, a, cfg)); err != nil {
		b.Fatal(err)
	}

	sides := []*side{none, tracked, policies}
	connect := func(sd *side) { sd.lat = append(sd.lat, timedConnects(b, sd.client.FD(), dst, 1)...) }
	burst := func(sd *side) {
		n, d := writeBurst(b, sd.client.FD(), dst, 50*time.Millisecond)
		sd.bytes += n
		sd.elapsed += d
	}
	// Warm every path up (caches, conntrack tables, the listener).
	for range 20 {
		for _, sd := range sides {
			connect(sd)
		}
	}
	var connVsNone, connVsCT, thrVsNone, thrVsCT []float64
	var medNone, medCT, medPol []time.Duration
	round := 0
	for b.Loop() {
		for _, sd := range sides {
			sd.lat, sd.bytes, sd.elapsed = sd.lat[:0], 0, 0
		}
		for i := range 300 {
			for k := range sides {
				connect(sides[(round+i+k)%len(sides)])
			}
		}
		for i := range 6 {
			for k := range sides {
				burst(sides[(round+i+k)%len(sides)])
			}
		}
		round++
		mn, mt, mp := median(none.lat), median(tracked.lat), median(policies.lat)
		medNone, medCT, medPol = append(medNone, mn), append(medCT, mt), append(medPol, mp)
		connVsNone = append(connVsNone, float64(mp)/float64(mn))
		connVsCT = append(connVsCT, float64(mp)/float64(mt))
		rate := func(sd *side) float64 { return float64(sd.bytes) / sd.elapsed.Seconds() }
		thrVsNone = append(thrVsNone, rate(policies)/rate(none))
		thrVsCT = append(thrVsCT, rate(policies)/rate(tracked))
	}
	b.ReportMetric(float64(median(medNone).Microseconds()), "connect-none-µs")
	b.ReportMetric(float64(median(medCT).Microseconds()), "connect-conntrack-µs")
	b.ReportMetric(float64(median(medPol).Microseconds()), "connect-500-µs")
	b.ReportMetric(median(connVsCT), "connect-ratio-vs-conntrack")
	b.ReportMetric(median(thrVsCT), "throughput-ratio-vs-conntrack")
	b.ReportMetric(median(connVsNone), "connect-ratio-vs-none")
	b.ReportMetric(median(thrVsNone), "throughput-ratio-vs-none")
}

// BenchmarkPacketCostDocker is the per-packet cost on a real Docker host:
// two containers on a network the benchmark creates, Docker's own
// iptables rules in force (connection tracking, isolation), and the same
// 500 policies (walk=1 and walk=20) applied by Lockdown in the host's
// namespace next to them. The two states (Docker's rules alone, and with
// Lockdown's table) take turns in a rotating order; after each change the
// process collects its garbage and waits 200 ms for the kernel to finish
// the change's deferred work, and 20 connects warm the path up.
func BenchmarkPacketCostDocker(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireDocker(b)
	image := testutil.AlpineImage(b, "lockdown-test/alpine:3.20.3")
	prefix := testutil.UniquePrefix(b, "ld9")
	network := prefix + "net"
	testutil.Docker(b, "network", "create", "--label", "lockdown.test=ld9", network)
	b.Cleanup(func() { exec.Command("docker", "network", "rm", network).Run() })
	client := runContainer(b, prefix, "client", image, network, "ns0")
	server := runContainer(b, prefix, "server", image, network, "ns0")
	server.serve(b, 8080)
	dst := netip.AddrPortFrom(server.ip, 8080).String()
	fd := int(client.ns.Fd())
	connect := func(n int) time.Duration { return median(timedConnects(b, fd, dst, n)) }
	throughput := func() float64 {
		n, d := writeBurst(b, fd, dst, 300*time.Millisecond)
		return float64(n) / d.Seconds() / 1e6
	}
	for _, walk := range []int{1, 20} {
		b.Run(fmt.Sprintf("walk=%d", walk), func(b *testing.B) {
			cfg := buildYAML(b, benchWorldWalk(1000, 500, walk, client.ip, server.ip))
			a, err := enforce.NewApplier(enforce.Options{Table: prefix + "bench", StateDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			rs := compiled(b, a, cfg)
			ctx := context.Background()
			defer a.Remove(ctx)
			type sample struct {
				connect    time.Duration
				throughput float64
			}
			var docker, policies []sample
			states := []struct {
				into *[]sample
				set  func() error
			}{
				{&docker, func() error { _, err := a.Remove(ctx); return err }},
				{&policies, func() error { _, err := a.Apply(ctx, rs); return err }},
			}
			round := 0
			for b.Loop() {
				for k := range states {
					st := states[(round+k)%len(states)]
					if err := st.set(); err != nil {
						b.Fatal(err)
					}
					runtime.GC()
					time.Sleep(200 * time.Millisecond)
					connect(20)
					*st.into = append(*st.into, sample{connect(300), throughput()})
				}
				round++
			}
			var cr, tr []float64
			var cd, cp []time.Duration
			for i := range policies {
				cr = append(cr, float64(policies[i].connect)/float64(docker[i].connect))
				tr = append(tr, policies[i].throughput/docker[i].throughput)
				cd, cp = append(cd, docker[i].connect), append(cp, policies[i].connect)
			}
			b.ReportMetric(float64(median(cd).Microseconds()), "connect-docker-µs")
			b.ReportMetric(float64(median(cp).Microseconds()), "connect-500-µs")
			b.ReportMetric(median(cr), "connect-ratio-vs-docker")
			b.ReportMetric(median(tr), "throughput-ratio-vs-docker")
		})
	}
}

// timedConnects connects from the namespace fd to dst n times and returns
// how long each connect took.
func timedConnects(b *testing.B, fd int, dst string, n int) []time.Duration {
	lat := make([]time.Duration, 0, n)
	netns.Do(fd, func() error {
		for range n {
			start := time.Now()
			c, err := net.DialTimeout("tcp", dst, 2*time.Second)
			if err != nil {
				b.Errorf("connect: %v", err)
				return nil
			}
			lat = append(lat, time.Since(start))
			c.Close()
		}
		return nil
	})
	return lat
}

// writeBurst writes 64 KiB blocks from the namespace fd to dst for about
// d over one connection and returns the bytes written and the time taken.
func writeBurst(b *testing.B, fd int, dst string, d time.Duration) (int, time.Duration) {
	var c net.Conn
	var err error
	netns.Do(fd, func() error {
		c, err = net.DialTimeout("tcp", dst, 2*time.Second)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		n += len(buf)
	}
	return n, time.Since(start)
}

// compiled compiles cfg for a.
func compiled(b *testing.B, a *enforce.Applier, cfg *netpol.Config) *enforce.Ruleset {
	b.Helper()
	rs, err := a.Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// median is the middle value of xs (the upper one of an even count; zero
// when there is none).
func median[T cmp.Ordered](xs []T) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkUpdateSets is the watch path: one more endpoint (a container
// like others) among 1,000 × 500 policies — compile, then rewrite only
// the sets that changed, in one transaction.
func BenchmarkUpdateSets(b *testing.B) {
	l := lab.New(b, lab.Options{BrNetfilter: true})
	world := benchWorld(1000, 500)
	cfgA := buildYAML(b, world)
	// A replica of pod p3: same namespace, labels and ports.
	cfgB := buildYAML(b, world+"apiVersion: v1\nkind: Pod\nmetadata: {name: extra, namespace: ns3, labels: {app: a3, tier: t3}}\nspec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}\nstatus: {podIP: 10.201.0.1}\n")
	a := applier(b, l.Host, enforce.BridgeAuto)
	ctx := context.Background()
	prev := compiled(b, a, cfgA)
	if _, err := a.Apply(ctx, prev); err != nil {
		b.Fatal(err)
	}
	cfgs := [2]*netpol.Config{cfgB, cfgA}
	var cpu time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c0 := cpuTime()
		next := compiled(b, a, cfgs[i%2])
		kind, err := a.Update(ctx, prev, next)
		if err != nil || kind != enforce.UpdateSets {
			b.Fatalf("Update = %q, %v; want sets only", kind, err)
		}
		cpu += cpuTime() - c0
		prev = next
		i++
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
