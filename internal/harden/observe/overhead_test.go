package observe_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockdown-sec/lockdown/internal/audit"
	"github.com/lockdown-sec/lockdown/internal/harden/observe"
	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// BenchmarkObserveOverhead measures what watching the seccomp log costs a
// syscall-heavy workload: dd copying one byte at a time (600,000 read and
// write calls) in a real container, under Docker's default profile and
// under the logging profile with the audit reader and the process
// watcher running. The metric is the workload's own time (ns/syscall),
// measured inside the container.
func BenchmarkObserveOverhead(b *testing.B) {
	if os.Getenv("LOCKDOWN_BENCH_DOCKER") == "" {
		b.Skip("set LOCKDOWN_BENCH_DOCKER=1: runs real containers")
	}
	testutil.RequireRoot(b)
	ref := testutil.DebianDockerRef(b)
	eng, err := audit.NewEngine("")
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	prof, _ := seccomp.LogProfile("amd64")
	pj, _ := json.Marshal(prof)
	const calls = 600000
	script := "s=$(date +%s%N); dd if=/dev/zero of=/dev/null bs=1 count=300000 2>/dev/null; e=$(date +%s%N); echo $((e-s)) > /tmp/ns; exec sleep 60"
	for _, mode := range []string{"default", "log"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			var total float64
			n := 0
			for b.Loop() {
				c := observe.Confinement{NoNewPrivileges: true}
				if mode == "log" {
					c.Seccomp = string(pj)
				}
				res, err := observe.Run(context.Background(), eng, observe.Workload{Image: ref, Cmd: []string{"sh", "-c", script}}, c,
					observe.Options{Test: []string{"sh", "-c", "while [ ! -s /tmp/ns ]; do sleep 0.1; done; cat /tmp/ns"}, Syscalls: mode == "log", Labels: map[string]string{"lockdown.test": "ld10"}, StopTimeout: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				ns, err := strconv.ParseFloat(strings.TrimSpace(res.TestOutput), 64)
				if err != nil {
					b.Fatalf("output %q: %v", res.TestOutput, err)
				}
				total += ns
				n++
				if mode == "log" {
					b.ReportMetric(float64(res.Records), "records")
				}
			}
			b.ReportMetric(total/float64(n)/calls, "ns/syscall")
		})
	}
}
