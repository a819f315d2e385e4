package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
// 30 MB (no layer cache), reachability included.
func BenchmarkScanGoBinary(b *testing.B) {
	root, st := bigGoBinary(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(b.Context(), "dir:"+root, st, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoReachabilityCost measures, in one run, what the reachability
// pass adds to that scan: each iteration scans the dir: target, then does
// the pass's own work on the same binary (indexing its functions from
// memory, as the extractor holds it, encoding the index for the package
// and decoding it for the matcher). It reports the CPU time of each (the
// machine is shared: wall time follows the load, CPU time does not) and
// pass-% = pass / (scan - pass), the issue's "adds < 10%" (README, "Go
// reachability").
func BenchmarkGoReachabilityCost(b *testing.B) {
	root, st := bigGoBinary(b)
	data, err := os.ReadFile(filepath.Join(root, "usr", "bin", "lockdown"))
	if err != nil {
		b.Fatal(err)
	}
	var scanCPU, passCPU time.Duration
	b.ReportAllocs()
	for b.Loop() {
		c0 := testutil.CPUTime()
		if _, err := Run(b.Context(), "dir:"+root, st, Options{}); err != nil {
			b.Fatal(err)
		}
		c1 := testutil.CPUTime()
		s, err := gobinary.ReadSymbolsBytes(data, "github.com/lockdown-sec/lockdown/cmd/lockdown")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gobinary.DecodeSymbols(s.Encode()); err != nil {
			b.Fatal(err)
		}
		scanCPU += c1 - c0
		passCPU += testutil.CPUTime() - c1
	}
	n := float64(b.N)
	b.ReportMetric(float64(scanCPU.Microseconds())/1e3/n, "scan-cpu-ms/op")
	b.ReportMetric(float64(passCPU.Microseconds())/1e3/n, "pass-cpu-ms/op")
	if scanCPU > passCPU {
		b.ReportMetric(100*float64(passCPU)/float64(scanCPU-passCPU), "pass-%")
	}
}
