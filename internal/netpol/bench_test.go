package netpol

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// largeWorld is the scale: 5,000 endpoints in 200 namespaces with
// 2,000 policies, generated deterministically.
func largeWorld(tb testing.TB) *Config {
	tb.Helper()
	r := rand.New(rand.NewPCG(2026, 11))
	g := &gen{r: r, spec: genSpec{
		namespaces: 200, pods: 5000, policies: 1600, k8sPolicies: 400,
		tiers: 3, sets: 20, apps: 10, replicas: 5,
	}}
	return g.build(tb)
}

// adversarialWorld is the same size, but every pod has its own mix of
// labels, service account and ports (no replicas), so almost no two
// endpoints fall in one class.
func adversarialWorld(tb testing.TB) *Config {
	tb.Helper()
	r := rand.New(rand.NewPCG(2026, 11))
	g := &gen{r: r, spec: genSpec{
		namespaces: 200, pods: 5000, policies: 1600, k8sPolicies: 400,
		tiers: 3, sets: 20, apps: 10,
	}}
	return g.build(tb)
}

var (
	largeOnce sync.Once
	largeCfg  *Config
)

func sharedLarge(tb testing.TB) *Config {
	largeOnce.Do(func() { largeCfg = largeWorld(tb) })
	return largeCfg
}

// BenchmarkMatrix computes the full reachability matrix (all 25 million
// endpoint pairs on every port in use) for the large world, and counts the
// allowed flows. peak-heap-MB is the heap in use right after the matrix is
// built.
func BenchmarkMatrix(b *testing.B) {
	cfg := sharedLarge(b)
	ports := PortsInUse(cfg)
	b.ReportAllocs()
	var eng *Engine
	for b.Loop() {
		eng = Compile(cfg, ports, 4)
		eng.CountAllowed()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(eng.Classes()), "classes")
	b.ReportMetric(float64(len(ports)), "ports")
}

// BenchmarkMatrixAdversarial is BenchmarkMatrix on the world without
// replicas: about one class per endpoint.
func BenchmarkMatrixAdversarial(b *testing.B) {
	cfg := adversarialWorld(b)
	ports := PortsInUse(cfg)
	b.ReportAllocs()
	var eng *Engine
	for b.Loop() {
		eng = Compile(cfg, ports, 4)
		eng.CountAllowed()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(eng.Classes()), "classes")
}

// BenchmarkCheck evaluates one flow, with explanation, on the large world.
func BenchmarkCheck(b *testing.B) {
	cfg := sharedLarge(b)
	src, dst := cfg.Endpoints[17], cfg.Endpoints[4211]
	f := PortProto{Protocol: ProtoTCP, Port: 443, ICMPType: -1}.Flow(EndpointPeer(src, 4), EndpointPeer(dst, 4), 4)
	b.ReportAllocs()
	for b.Loop() {
		cfg.Evaluate(f)
	}
}

// BenchmarkBuild normalises the large world from its objects.
func BenchmarkBuild(b *testing.B) {
	r := rand.New(rand.NewPCG(2026, 11))
	g := &gen{r: r, spec: genSpec{namespaces: 200, pods: 5000, policies: 1600, k8sPolicies: 400, tiers: 3, sets: 20, apps: 10}}
	g.build(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(g.objs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiff compares the large world with itself: every endpoint pair
// and every external address on every port in use.
func BenchmarkDiff(b *testing.B) {
	cfg := sharedLarge(b)
	ports := PortsInUse(cfg)
	b.ReportAllocs()
	var d *DiffResult
	for b.Loop() {
		d = Diff(cfg, cfg, ports, 4)
	}
	if d.Changed() {
		b.Fatalf("Diff(cfg, cfg) changed %d flows", len(d.NewlyAllowed)+len(d.NewlyBlocked))
	}
	b.ReportMetric(float64(len(d.External)), "external")
}
