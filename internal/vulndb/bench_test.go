package vulndb

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// allSources is every advisory source in the shared data.
func allSources(t testing.TB) []Source {
	t.Helper()
	return []Source{
		{Kind: KindOSV, Location: filepath.Join(testutil.DataDir(t), "osv")},
		{Kind: KindAlpineSecdb, Location: testutil.Data(t, "distro/alpine-secdb")},
		{Kind: KindUbuntuTracker, Location: testutil.Data(t, "distro/ubuntu-cve-tracker/ubuntu-cve-tracker-2020-06.tar.gz")},
		{Kind: KindDebianTracker, Location: testutil.Data(t, "distro/debian-security-tracker")},
	}
}

func BenchmarkUpdateAll(b *testing.B) {
	srcs := allSources(b)
	path := filepath.Join(b.TempDir(), "lockdown.db")
	b.ReportAllocs()
	var st Status
	for b.Loop() {
		var err error
		st, err = Update(context.Background(), path, srcs, UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size)/1e6, "MB")
	b.ReportMetric(float64(st.Records), "records")
}

func BenchmarkLookup(b *testing.B) {
	s := sharedStore(b)
	keys := sharedKeys(b)
	rng := rand.New(rand.NewPCG(1, 2))
	sample := make([]pkgKey, 0, 4096)
	for range 4096 {
		sample = append(sample, keys[rng.IntN(len(keys))])
	}
	ctx := context.Background()
	run := func(b *testing.B, next func(i int) pkgKey) {
		b.ReportAllocs()
		i, n := 0, 0
		for b.Loop() {
			k := next(i)
			i++
			vs, err := s.Lookup(ctx, k.eco, k.name)
			if err != nil {
				b.Fatal(err)
			}
			n += len(vs)
		}
		b.ReportMetric(float64(n)/float64(i), "records/op")
	}
	b.Run("random", func(b *testing.B) { run(b, func(i int) pkgKey { return sample[i%len(sample)] }) })
	for _, k := range []pkgKey{
		{"Go", "stdlib"},
		{"Alpine:v3.10", "openssl"},
		{"Debian:9", "openssl"},
		{"Ubuntu:18.04", "openssl"},
		{"Ubuntu:18.04", "linux"},
		{"AlmaLinux:8", "java-1.8.0-openjdk"},
		{"PyPI", "django"},
		{"npm", "lodash"},
		{"crates.io", "nonexistent-crate"},
	} {
		b.Run(k.eco+"/"+k.name, func(b *testing.B) { run(b, func(int) pkgKey { return k }) })
	}
}

// sharedKeys lists every indexed (ecosystem, name) of the shared store.
func sharedKeys(t testing.TB) []pkgKey {
	t.Helper()
	all := sharedExpect(t)
	keys := make([]pkgKey, 0, len(all.index))
	for k := range all.index {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].eco != keys[j].eco {
			return keys[i].eco < keys[j].eco
		}
		return keys[i].name < keys[j].name
	})
	return keys
}
