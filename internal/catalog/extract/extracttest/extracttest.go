// Package extracttest holds the fuzz target and the benchmarks that the
// lock-file parsers share: each is a Parser, a file's location and bytes
// in, packages and warnings out.
package extracttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// Parser is a lock-file parser.
type Parser func(location string, data []byte) (extract.Result, error)

// Named is what Fuzz checks when given no other check: every package has
// a name and a version.
func Named(p model.Package) bool { return p.Name != "" && p.Version != "" }

// Fuzz fuzzes parse with the file at location, seeded with the files of
// the package's testdata directory named (and whatever the caller added
// before): a parse may fail, but never panic, and every package of one
// that succeeds must pass valid.
func Fuzz(f *testing.F, parse Parser, location string, valid func(model.Package) bool, seeds ...string) {
	f.Helper()
	for _, s := range seeds {
		b, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parse(location, data)
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if !valid(p) {
				t.Fatalf("package %+v", p)
			}
		}
	})
}

// Bench measures parse on data at location (bytes per second, allocations).
func Bench(b *testing.B, parse Parser, location string, data []byte) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(location, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchFile is Bench on a file of the shared data (rel is its path there),
// at its own location.
func BenchFile(b *testing.B, parse Parser, rel string) {
	b.Helper()
	p := testutil.Data(b, rel)
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	Bench(b, parse, p, data)
}
