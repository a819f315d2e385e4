package match

import (
	"context"
	"slices"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/osv"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// BenchmarkAffects: typical ranges — a Go stdlib entry with four
// introduced/fixed pairs, a Debian entry, an AlmaLinux entry.
func BenchmarkAffects(b *testing.B) {
	cases := []struct {
		name, eco, installed string
		a                    osv.Affected
	}{
		{"go-stdlib", "Go", "1.20.1", osv.Affected{Ranges: []osv.Range{rng("SEMVER",
			intro("0"), fix("1.19.12"), intro("1.20.0-0"), fix("1.20.7"), intro("1.21.0-0"), fix("1.21.1"), intro("1.22.0-0"), fix("1.22.3"))}}},
		{"debian", "Debian:12", "3.0.11-1~deb12u1", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fix("3.0.11-1~deb12u2"))}}},
		{"almalinux", "AlmaLinux:8", "1:1.1.1k-5.el8_5", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fix("1:1.1.1k-6.el8_5"))}}},
		{"npm-versions", "npm", "4.17.15", osv.Affected{Versions: []string{"4.17.10", "4.17.11", "4.17.12", "4.17.13", "4.17.14", "4.17.15"},
			Ranges: []osv.Range{rng("SEMVER", intro("0"), fix("4.17.21"))}}},
	}
	for _, tc := range cases {
		s := mustScheme(b, tc.eco)
		v := osv.Vulnerability{ID: "BENCH-1", Affected: []osv.Affected{tc.a}}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if hit, _, err := Affects(v, tc.a, s, tc.installed); err != nil || !hit {
					b.Fatalf("Affects = %v, %v", hit, err)
				}
			}
		})
	}
}

// BenchmarkMatchGo matches 1,000 Go packages against the whole Go
// vulnerability database (go.zip, read in the benchmark) in memory.
func BenchmarkMatchGo(b *testing.B) {
	vs := testutil.OSVZip(b, "osv/go.zip")
	src := newMemSource(vs)
	names := map[string]bool{}
	for _, v := range vs {
		for _, a := range v.Affected {
			names[a.Package.Name] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	versions := []string{"v0.0.1", "v1.0.0", "v0.0.0-20200226121028-0de0cce0169b", "v1.9.9", "v2.0.0+incompatible"}
	var pkgs []model.Package
	for i := 0; len(pkgs) < 1000; i++ {
		pkgs = append(pkgs, model.Package{Name: sorted[i%len(sorted)], Version: versions[i%len(versions)],
			Type: model.TypeGolang, Ecosystem: "Go", Location: "/bin/app"})
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		fs, _, err := Match(context.Background(), src, pkgs, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(fs)
	}
	b.ReportMetric(float64(n), "findings")
}
