package audit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// BenchmarkAudit audits LOCKDOWN_BENCH_CONTAINERS running containers
// (tiny image, sleep 3600, --network none) on the real engine: every
// check, every container (with its process list from the Engine API's top
// for CIS 5.7), their image. Heavy, so behind the variable:
//
//	LOCKDOWN_BENCH_CONTAINERS=200 go test ./internal/audit -run '^$' -bench BenchmarkAudit -benchtime 5x
func BenchmarkAudit(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("LOCKDOWN_BENCH_CONTAINERS"))
	if n <= 0 {
		b.Skip("set LOCKDOWN_BENCH_CONTAINERS=200 to run (starts that many containers)")
	}
	testutil.RequireDocker(b)
	img := testutil.AlpineImage(b, testImage, `CMD ["sleep","3600"]`)
	p := testutil.UniquePrefix(b, "ld15")
	names := make([]string, n)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", p, i)
		g.Go(func() error {
			out, err := exec.Command("docker", "run", "-d", "--name", names[i], "--label", "lockdown.test=ld15", "--network", "none", img, "sleep", "3600").CombinedOutput()
			if err != nil {
				return fmt.Errorf("docker run %s: %v: %s", names[i], err, out)
			}
			return nil
		})
	}
	b.Cleanup(func() {
		args := append([]string{"rm", "-f"}, names...)
		exec.Command("docker", args...).Run()
	})
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	eng, err := audit.NewEngine("")
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	// every-check: on the daemon's host, process lists (5.7) from one pass
	// over /proc; remote-view: as for a remote engine (no host checks),
	// one Engine API top (a ps run by the daemon) per container.
	for _, bc := range []struct {
		name string
		host string
	}{{"every-check", audit.HostAuto}, {"remote-view", audit.HostOff}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := audit.Config{Engine: eng, Containers: names, HostChecks: bc.host}
			b.ReportAllocs()
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				rep, err := audit.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Meta["containers"] != strconv.Itoa(n) {
					b.Fatalf("audited %s containers, want %d", rep.Meta["containers"], n)
				}
			}
			// The audit's own CPU time; the wall time is mostly the
			// engine's answers, and on a shared machine its wait for a core.
			b.ReportMetric((testutil.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(n), "containers")
		})
	}
}

// BenchmarkContainerChecks runs every container check over one inspected
// container (pure logic, no I/O).
func BenchmarkContainerChecks(b *testing.B) {
	testutil.RequireDocker(b)
	img := testutil.AlpineImage(b, testImage, `CMD ["sleep","3600"]`)
	name := strings.TrimSuffix(testutil.UniquePrefix(b, "ld15"), "-")
	testutil.RunContainer(b, name, "--label", "lockdown.test=ld15", "--network", "none", "-v", "/etc:/host/etc:ro", img)
	eng, err := audit.NewEngine("")
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	ins, err := eng.ContainerInspect(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	info, err := eng.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var checks []audit.Check
	for _, c := range audit.Checks() {
		if c.Info().Scope == audit.ScopeContainer {
			checks = append(checks, c)
		}
	}
	t := &audit.Target{Daemon: &audit.Daemon{Info: info, Endpoint: eng.DaemonHost()}, Container: &audit.Container{Name: name, Inspect: ins}}
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range checks {
			c.Run(ctx, t)
		}
	}
}
