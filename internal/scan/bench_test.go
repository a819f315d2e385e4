package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/gobinary"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/vulndb"
)

// bigGoBinary builds this repository's own command, a Go binary of over
// 30 MB, into a dir: target, and opens a database of the Go advisories.
func bigGoBinary(b *testing.B) (root string, st *vulndb.Store) {
	b.Helper()
	goCmd := testutil.RequireCmd(b, "go")
	root = b.TempDir()
	bin := filepath.Join(root, "usr", "bin", "lockdown")
	cmd := exec.CommandContext(b.Context(), goCmd, "build", "-o", bin, "./cmd/lockdown")
	cmd.Dir = testutil.RepoRoot(b)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/lockdown: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Size() < 30<<20 {
		b.Fatalf("the binary is not over 30 MB: %v", err)
	}
	db := filepath.Join(b.TempDir(), "db")
	srcs, err := vulndb.DetectSources(testutil.Data(b, "osv/go.zip"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := vulndb.Update(context.Background(), db, srcs, vulndb.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	st, err = vulndb.Open(db, vulndb.OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return root, st
}

// BenchmarkScanGoBinary scans a dir: target holding one Go binary of over
// 30 MB (no layer cache), reachability included. Compare with
// BenchmarkGoReachabilityPass on the same binary: the ratio pass / (scan -
// pass) is what reachability adds to the scan (README, "Go reachability").
func BenchmarkScanGoBinary(b *testing.B) {
	root, st := bigGoBinary(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(b.Context(), "dir:"+root, st, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoReachabilityPass is the reachability work of that scan on its
// own: indexing the binary's functions and inline trees (from memory, as
// the extractor holds it, sections read in place), encoding the index for
// the package, and decoding
// it for the matcher.
func BenchmarkGoReachabilityPass(b *testing.B) {
	root, _ := bigGoBinary(b)
	data, err := os.ReadFile(filepath.Join(root, "usr", "bin", "lockdown"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := gobinary.ReadSymbolsBytes(data, "github.com/lockdown-sec/lockdown/cmd/lockdown")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gobinary.DecodeSymbols(s.Encode()); err != nil {
			b.Fatal(err)
		}
	}
}
