package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/cache"
	"github.com/lockdown-sec/lockdown/internal/scan"
	"github.com/lockdown-sec/lockdown/internal/server/store"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// BenchmarkJobs: scan jobs through the API (POST /v1/scans, poll GET
// /v1/scans/{id} until done) on the Debian bookworm test image
// (docker-archive), with the layer cache warm, 2 workers, batches of 8
// jobs in flight; reports jobs/min for SQLite and PostgreSQL.
func BenchmarkJobs(b *testing.B) {
	img := testutil.DebianImage(b)
	adv := advisoryDBFile(b, "distro/debian-security-tracker", "osv/mixed-samples.zip")
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			lc, err := cache.Open(filepath.Join(b.TempDir(), "layers"), cache.Options{})
			if err != nil {
				b.Fatal(err)
			}
			st := openStore(b, dialect)
			ts := startServer(b, Config{Store: st, AdvisoryDB: adv, AllowLocalTargets: true, Workers: 2,
				Poll: 10 * time.Millisecond, ScanOptions: scan.Options{Cache: lc}})
			target := "docker-archive:" + img.DockerArchive
			// Warm the layer cache and check the scan works.
			if j := ts.wait(b, "/v1/scans/"+ts.enqueue(b, target)); j.State != store.StateDone {
				b.Fatalf("warm-up scan: %s %s", j.State, j.Error)
			}
			const batch = 8
			b.ReportAllocs()
			start := time.Now()
			jobs := 0
			for b.Loop() {
				ids := make([]string, batch)
				for i := range ids {
					ids[i] = ts.enqueue(b, target)
				}
				for _, id := range ids {
					if j := ts.wait(b, "/v1/scans/"+id); j.State != store.StateDone {
						b.Fatalf("job %s: %s %s", id, j.State, j.Error)
					}
				}
				jobs += batch
			}
			b.ReportMetric(float64(jobs)/time.Since(start).Minutes(), "jobs/min")
		})
	}
}
